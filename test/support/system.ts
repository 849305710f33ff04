import kafkajs from "kafkajs";
import pg from "pg";
import type { DistributedApplication } from "@outbox/apphost";
import { ensureArtemisDistribution } from "../../apphost/src/artemis/distribution.js";
import { queueStats, type QueueStat } from "../../apphost/src/artemis/queue-stats.js";

export interface CreatedEntity {
  id: string;
  name: string;
  description: string | null;
  createdAt: string;
}

/** POSTs one entity and returns the response (status, headers, parsed body). */
export async function postEntity(
  senderUrl: string,
  body: unknown,
  init: { raw?: string; contentType?: string } = {},
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const response = await fetch(`${senderUrl}/api/EntityItems`, {
    method: "POST",
    headers: { "content-type": init.contentType ?? "application/json" },
    body: init.raw ?? JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** Posts `count` entities at once and returns them; fails on any non-201. */
export async function postEntities(
  senderUrl: string,
  count: number,
  prefix: string,
): Promise<CreatedEntity[]> {
  const responses = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      postEntity(senderUrl, { name: `${prefix}-${i}`, description: `item ${i}` }),
    ),
  );
  const failed = responses.filter((r) => r.status !== 201);
  if (failed.length > 0) {
    throw new Error(
      `${failed.length} of ${count} POSTs failed, e.g. ${failed[0]?.status} ${JSON.stringify(failed[0]?.body)}`,
    );
  }
  return responses.map((r) => r.body as CreatedEntity);
}

/** Runs one query against a resource's database, with a fresh connection. */
export async function query<T extends pg.QueryResultRow>(
  connectionString: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * How many messages the receiver applied for each of `ids` (inbox rows per aggregate, joined to
 * the effect). The effect table is keyed by entity id, so a second message for the same entity
 * (a sender-side duplicate) shows up here as a count of 2, and a missing effect as no entry.
 */
export async function appliedCounts(
  app: DistributedApplication,
  ids: string[],
): Promise<Map<string, number>> {
  const rows = await query<{ entity_id: string; n: string }>(
    app.getConnectionString("receiverdb"),
    `SELECT r.id::text AS entity_id, count(i.message_id)::text AS n
       FROM received_items r JOIN inbox i ON i.aggregate_id = r.id::text
      WHERE r.id = ANY($1::uuid[])
      GROUP BY r.id`,
    [ids],
  );
  return new Map(rows.map((r) => [r.entity_id, Number(r.n)]));
}

/** Waits until every id has been applied at least once (or the timeout passes), then returns the counts. */
export async function waitForApplied(
  app: DistributedApplication,
  ids: string[],
  timeoutMs = 90_000,
): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let counts = new Map<string, number>();
  while (Date.now() < deadline) {
    counts = await appliedCounts(app, ids);
    if (counts.size === ids.length) return counts;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return counts;
}

export async function outboxStatusCounts(app: DistributedApplication): Promise<Record<string, number>> {
  const rows = await query<{ status: string; n: string }>(
    app.getConnectionString("senderdb"),
    "SELECT status, count(*)::text AS n FROM outbox_messages GROUP BY status",
  );
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** Polls until the outbox has no pending row (the relay has published everything). */
export async function waitForOutboxDrained(
  app: DistributedApplication,
  timeoutMs = 60_000,
): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let counts = await outboxStatusCounts(app);
  while ((counts.pending ?? 0) > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    counts = await outboxStatusCounts(app);
  }
  return counts;
}

/** The consumer groups' queues (apphost.ts). */
export const GROUP_QUEUES = ["entity-items.receiver", "entity-items.audit"] as const;

/** Which broker the running system uses (apphost.ts `--transport`): the `broker` resource's kind. */
export function brokerTransport(app: DistributedApplication): "artemis" | "kafka" {
  const kind = app.snapshot().find((r) => r.name === "broker")?.kind;
  if (kind === "artemis") return "artemis";
  if (kind === "kafka") return "kafka";
  throw new Error(`the model has no Artemis or Kafka "broker" (${String(kind)})`);
}

/**
 * The broker's own counts for the group queues: through Artemis' CLI with the credentials the
 * AppHost injected for the broker (about 3 s per call: it starts a JVM), or on Kafka the groups'
 * offsets (kafkaGroupStats).
 */
export async function groupQueueStats(app: DistributedApplication): Promise<QueueStat[]> {
  if (brokerTransport(app) === "kafka")
    return kafkaGroupStats(app.getConnectionString("broker"), GROUP_QUEUES);
  const broker = new URL(app.getConnectionString("broker"));
  const stats = await queueStats({
    distribution: await ensureArtemisDistribution({}),
    port: Number(broker.port),
    user: decodeURIComponent(broker.username),
    password: decodeURIComponent(broker.password),
  });
  return stats.filter((q) => (GROUP_QUEUES as readonly string[]).includes(q.queue));
}

/**
 * Waits until nothing more can arrive at the receiver: no outbox row waits for the relay or for its
 * receipt, and the group queues hold no message (neither ready nor out for delivery). Counting after
 * this replaces a fixed pause "for late duplicates": a duplicate can only come from the outbox or from
 * the queue, and both are empty.
 */
export async function waitForQuiet(app: DistributedApplication, timeoutMs = 90_000): Promise<QueueStat[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outbox = await outboxStatusCounts(app);
    const unsettled = (outbox.pending ?? 0) + (outbox.published ?? 0);
    const stats = unsettled === 0 ? await groupQueueStats(app) : [];
    if (unsettled === 0 && stats.length === GROUP_QUEUES.length && stats.every((q) => q.messageCount === 0)) {
      return stats;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `not quiet after ${timeoutMs} ms: outbox ${JSON.stringify(outbox)}, queues ${JSON.stringify(stats)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * waitForQuiet for some entities only: their outbox rows are settled (delivered or dead) and the
 * group queues hold nothing, neither ready nor out for delivery. After this no copy of theirs can
 * still arrive (a duplicate comes from the outbox or from a queue), so counting replaces a pause.
 */
export async function waitForSettled(
  app: DistributedApplication,
  aggregateIds: string[],
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await query<{ open: number }>(
      app.getConnectionString("senderdb"),
      `SELECT count(*)::int AS open FROM outbox_messages
        WHERE aggregate_id = ANY($1::text[]) AND status IN ('pending', 'published')`,
      [aggregateIds],
    );
    const open = row?.open ?? 0;
    const stats = open === 0 ? await groupQueueStats(app) : [];
    if (open === 0 && stats.length === GROUP_QUEUES.length && stats.every((q) => q.messageCount === 0))
      return;
    if (Date.now() > deadline) {
      throw new Error(
        `not settled after ${timeoutMs} ms: ${open} outbox rows open, queues ${JSON.stringify(stats)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Posts `waves` × 100 entities through the sender and SIGKILLs `victim` as soon as the first of
 * them is applied, while the rest are still being posted and delivered: a kill in the middle of a
 * stream. Returns every posted id and how many were applied at the moment of the kill (counted
 * after it, when the victim can apply nothing more).
 */
export async function killDuringStream(
  app: DistributedApplication,
  victim: string,
  prefix: string,
  waves = 3,
): Promise<{ ids: string[]; appliedAtKill: number }> {
  const sender = app.getEndpoint("sender");
  const ids: string[] = [];
  const posting = (async () => {
    for (let wave = 0; wave < waves; wave++)
      ids.push(...(await postEntities(sender, 100, `${prefix}-${wave}`)).map((e) => e.id));
  })();
  // A failed POST must fail the test, not become an unhandled rejection while we poll.
  const posted = posting.then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  const deadline = Date.now() + 60_000;
  while ((await appliedCounts(app, [...ids])).size === 0) {
    if (Date.now() > deadline) throw new Error(`none of the ${ids.length} posted entities applied in 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await app.killResource(victim);
  const appliedAtKill = (await appliedCounts(app, [...ids])).size;
  const failure = await posted;
  if (failure !== undefined) throw failure;
  return { ids, appliedAtKill };
}

/** The receiver's consumers' counters as its /health reports them, keyed by queue. */
export async function consumerCounters(
  receiverUrl: string,
): Promise<Record<string, Record<string, unknown>>> {
  const health = (await (await fetch(`${receiverUrl}/health`)).json()) as {
    checks: Record<string, { data?: Record<string, unknown> }>;
  };
  const counters: Record<string, Record<string, unknown>> = {};
  for (const check of Object.values(health.checks)) {
    if (typeof check.data?.queue === "string") counters[check.data.queue] = check.data;
  }
  return counters;
}

const { Kafka, logLevel } = kafkajs;

/** A kafkajs admin client of the system's broker, for `work`; always disconnected. */
export async function withKafkaAdmin<T>(
  bootstrap: string,
  work: (admin: ReturnType<InstanceType<typeof Kafka>["admin"]>) => Promise<T>,
): Promise<T> {
  const admin = new Kafka({
    clientId: "system-test",
    brokers: bootstrap.split(","),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Records a topic holds (end minus start offsets, over its partitions). */
export async function kafkaTopicRecords(bootstrap: string, topic: string): Promise<number> {
  return withKafkaAdmin(bootstrap, async (admin) =>
    (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0),
  );
}

/**
 * Kafka's counterpart of the Artemis queue counts for consumer groups `<topic>.<group>`: records
 * the group has not committed yet on its topic and on its retry tiers (`messageCount`, 0 once it
 * is quiet), records on the topic (`messagesAdded`), records committed (`messagesAcked`), and the
 * group's members (`consumerCount`).
 */
export async function kafkaGroupStats(bootstrap: string, groupIds: readonly string[]): Promise<QueueStat[]> {
  return withKafkaAdmin(bootstrap, async (admin) => {
    const topics = await admin.listTopics();
    /** Uncommitted and committed records of `groupId` on `topic`. */
    const progress = async (groupId: string, topic: string) => {
      const [ends, committed] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
      const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      let lag = 0;
      let acked = 0;
      for (const p of ends) {
        const low = Number(p.low);
        const at = Math.max(done.get(p.partition) ?? -1, low);
        lag += Number(p.high) - at;
        acked += at - low;
      }
      return { lag, acked, added: ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0) };
    };
    const stats: QueueStat[] = [];
    for (const groupId of groupIds) {
      const address = groupId.slice(0, groupId.lastIndexOf("."));
      const main = await progress(groupId, address);
      let messageCount = main.lag;
      // Each retry tier is read by a group of its own named as the tier.
      for (const tier of topics.filter((t) => t.startsWith(`${groupId}.retry-`)))
        messageCount += (await progress(tier, tier)).lag;
      const [described] = (await admin.describeGroups([groupId])).groups;
      stats.push({
        queue: groupId,
        address,
        messageCount,
        consumerCount: described?.members.length ?? 0,
        messagesAdded: main.added,
        messagesAcked: main.acked,
      });
    }
    return stats;
  });
}
