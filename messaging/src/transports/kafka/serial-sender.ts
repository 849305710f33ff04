import type { Producer } from "@platformatic/kafka";
import { encodeHeaders, type KafkaRecordData } from "./record.js";
import { refusalOf } from "./publish-outcome.js";

/** Most records in one produce request. */
const MAX_PER_SEND = 500;

interface Queued {
  topic: string;
  record: KafkaRecordData;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * One produce request in flight per producer, the records queued meanwhile sent together in the
 * next one.
 *
 * Why: @platformatic/kafka 1.35.0 advances an idempotent producer's sequence numbers only when a
 * produce response arrives, so two `send()` calls in flight to the same partition carry the same
 * sequence; the broker takes the second for a retry of the first, answers success with the first
 * one's offset and drops it. Seen here: three concurrent sends, three successes, one record
 * written (test/kafka-transport.test.ts "concurrent sends"). One request at a time keeps the
 * sequences right; batching what queued up meanwhile keeps the throughput.
 */
export class SerialSender {
  private readonly queue: Queued[] = [];
  private sending = false;
  private current: Producer;

  /**
   * `create` makes the producer, and a new one whenever a produce request has no answer within
   * `produceTimeoutMs`: the queue must not wait forever behind one request, and sending on beside
   * it from the same producer would reuse its sequence numbers (above). A new producer has a new
   * producer id, so nothing it sends can be taken for the old request's retry.
   */
  constructor(
    private readonly create: () => Producer,
    private readonly produceTimeoutMs: number,
    private readonly onReplaced: (reason: string) => void = () => undefined,
  ) {
    this.current = create();
  }

  /** The producer in use now (replaced after a produce request that got no answer). */
  get producer(): Producer {
    return this.current;
  }

  /** Resolves once all in-sync replicas have the record; rejects with the client's error. */
  send(topic: string, record: KafkaRecordData): Promise<void> {
    return this.sendWithdrawable(topic, record).done;
  }

  /**
   * `send`, and `withdraw()`: takes the record back if it is still queued (true: it will never be
   * sent, and `done` stays pending). A caller that gave up waiting withdraws it, so that a resend
   * of its own does not find the record written twice once the queue moves again.
   */
  sendWithdrawable(topic: string, record: KafkaRecordData): { done: Promise<void>; withdraw: () => boolean } {
    let queued: Queued | undefined;
    const done = new Promise<void>((resolve, reject) => {
      queued = { topic, record, resolve, reject };
      this.queue.push(queued);
      if (!this.sending) void this.drain();
    });
    return {
      done,
      withdraw: () => {
        const at = queued === undefined ? -1 : this.queue.indexOf(queued);
        if (at < 0) return false;
        this.queue.splice(at, 1);
        return true;
      },
    };
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_PER_SEND);
        try {
          await this.produce(batch);
          for (const q of batch) q.resolve();
        } catch (error) {
          if (batch.length === 1 || refusalOf(error) === undefined) {
            for (const q of batch) q.reject(error);
            continue;
          }
          // One record refused (too large, unknown topic) must not fail its neighbours: alone each.
          for (const q of batch) {
            try {
              await this.produce([q]);
              q.resolve();
            } catch (alone) {
              q.reject(alone);
            }
          }
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private async produce(batch: readonly Queued[]): Promise<void> {
    const producer = this.current;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProduceTimeoutError(this.produceTimeoutMs)), this.produceTimeoutMs);
    });
    try {
      await Promise.race([this.sendOn(producer, batch), timedOut]);
    } catch (error) {
      if (error instanceof ProduceTimeoutError && this.current === producer) {
        this.current = this.create();
        producer.close(true, () => undefined);
        this.onReplaced(error.message);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private async sendOn(producer: Producer, batch: readonly Queued[]): Promise<void> {
    await producer.send({
      messages: batch.map(({ topic, record }) => ({
        topic,
        ...(record.key !== undefined ? { key: Buffer.from(record.key, "utf8") } : {}),
        value: record.value,
        headers: encodeHeaders(record.headers),
      })),
    });
  }
}

/** A produce request with no answer in time: its records may or may not be on the topic. */
export class ProduceTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer to a produce request within ${timeoutMs} ms; the producer was replaced`);
    this.name = "ProduceTimeoutError";
  }
}
