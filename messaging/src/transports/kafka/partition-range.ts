import type { Consumer } from "@platformatic/kafka";
import { decodeHeaders, type ReadRecord } from "./record.js";

/** Control batches (transaction markers) carry no records of ours. */
const IS_CONTROL = 0x20;
const FETCH_BYTES = 1024 * 1024;

/** Start (earliest) and end (next offset to be written) of every partition of a topic. */
export async function partitionBounds(
  client: Consumer,
  topic: string,
): Promise<Array<{ partition: number; start: bigint; end: bigint }>> {
  const [starts, ends] = await Promise.all([
    client.listOffsets({ topics: [topic], timestamp: -2n }),
    client.listOffsets({ topics: [topic], timestamp: -1n }),
  ]);
  const start = starts.get(topic) ?? [];
  const end = ends.get(topic) ?? [];
  return start.map((s, partition) => ({ partition, start: s, end: end[partition] ?? s }));
}

/**
 * Reads records of one partition from `from` up to (not including) `to` without joining a group
 * (dead-letter browsing must not take partitions from anyone). `visit` returns false to stop.
 */
export async function readPartition(
  client: Consumer,
  topic: string,
  partition: number,
  from: bigint,
  to: bigint,
  visit: (record: ReadRecord) => boolean,
): Promise<void> {
  let offset = from;
  while (offset < to) {
    const metadata = await client.metadata({ topics: [topic] });
    const described = metadata.topics.get(topic);
    const leader = described?.partitions[partition]?.leader;
    if (described === undefined || leader === undefined)
      throw new Error(`no leader for ${topic}/${partition}`);
    const response = await client.fetch({
      node: leader,
      minBytes: 1,
      maxBytes: FETCH_BYTES,
      maxWaitTime: 100,
      topics: [
        {
          topicId: described.id,
          partitions: [
            {
              partition,
              fetchOffset: offset,
              partitionMaxBytes: FETCH_BYTES,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
            },
          ],
        },
      ],
    });
    const batches = response.responses[0]?.partitions[0]?.records ?? [];
    let next = offset;
    for (const batch of batches) {
      next = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
      if ((batch.attributes & IS_CONTROL) !== 0) continue;
      for (const record of batch.records) {
        const at = batch.firstOffset + BigInt(record.offsetDelta);
        if (at < offset || at >= to) continue;
        const read: ReadRecord = {
          topic,
          partition,
          offset: at,
          key: record.key === null ? undefined : record.key.toString("utf8"),
          value: record.value ?? undefined,
          headers: decodeHeaders(record.headers),
          timestamp: Number(batch.firstTimestamp + record.timestampDelta),
        };
        if (!visit(read)) return;
      }
    }
    // Nothing returned below `to`: the rest was deleted (retention) or is not readable yet.
    if (next <= offset) return;
    offset = next;
  }
}
