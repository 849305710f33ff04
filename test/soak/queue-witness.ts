import type { Connection, EventContext, Receiver } from "rhea";
import { BrokerManagement } from "../../messaging/src/transports/artemis/management.js";
import { connectToBrokerAt } from "../support/receiver.js";

/**
 * A durable queue on a topic's multicast address that nobody consumes while the soak runs: it
 * receives one copy of every message the broker ROUTES to the topic, exactly as the consumer
 * groups' diverts do, and never sees a redelivery (nothing is delivered from it). So after the
 * run, an outbox id found twice in it is a second copy on the queues, whatever the delivery counts
 * said; an id found once means every repeat delivery of it to a group was a redelivery. The queue
 * is journalled like the groups' queues, so it counts across broker kills and restarts.
 */
export const WITNESS_QUEUE = "soak-witness";

export interface WitnessCount {
  /** Messages in the witness queue. */
  messages: number;
  /** Distinct AMQP message ids (outbox ids) among them. */
  distinct: number;
  /** Ids routed more than once, with how many times (a real copy on the queue). */
  copied: Array<{ messageId: string; times: number }>;
}

/** Creates the witness queue on `topic` (call once the broker is up, before any message is sent). */
export async function createWitnessQueue(brokerUrl: string, topic: string): Promise<void> {
  await withManagement(brokerUrl, async (management) => {
    await management.call("broker", "createQueue", [
      JSON.stringify({ name: WITNESS_QUEUE, address: topic, "routing-type": "MULTICAST", durable: true }),
    ]);
  });
}

/**
 * Reads the whole witness queue (consuming it) and counts each message id. Call it after the
 * faults ended: it expects exactly the number of messages the broker says the queue holds.
 */
export async function readWitnessQueue(
  brokerUrl: string,
  topic: string,
  timeoutMs = 300_000,
): Promise<WitnessCount> {
  const expected = await withManagement(brokerUrl, async (management) =>
    Number(await management.call(`queue.${WITNESS_QUEUE}`, "countMessages")),
  );
  const times = new Map<string, number>();
  const connection = await connectToBrokerAt(brokerUrl);
  try {
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      if (expected === 0) return resolve();
      const timer = setTimeout(
        () => reject(new Error(`witness queue: ${received} of ${expected} messages read in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const receiver: Receiver = connection.open_receiver({
        source: { address: `${topic}::${WITNESS_QUEUE}`, capabilities: ["topic"] },
        credit_window: 500,
        autoaccept: true,
      });
      receiver.on("message", (context: EventContext) => {
        const id = String(context.message?.message_id);
        times.set(id, (times.get(id) ?? 0) + 1);
        received += 1;
        if (received === expected) {
          clearTimeout(timer);
          resolve();
        }
      });
      receiver.once("receiver_error", (context: EventContext) => {
        clearTimeout(timer);
        reject(new Error(`witness queue refused: ${JSON.stringify(context.receiver?.error)}`));
      });
    });
  } finally {
    await closeConnection(connection);
  }
  const copied = [...times]
    .filter(([, n]) => n > 1)
    .map(([messageId, n]) => ({ messageId, times: n }))
    .sort((a, b) => a.messageId.localeCompare(b.messageId));
  return { messages: expected, distinct: times.size, copied };
}

async function withManagement<T>(brokerUrl: string, use: (m: BrokerManagement) => Promise<T>): Promise<T> {
  const connection = await connectToBrokerAt(brokerUrl);
  const management = new BrokerManagement(connection, 30_000);
  try {
    return await use(management);
  } finally {
    management.close();
    await closeConnection(connection);
  }
}

function closeConnection(connection: Connection): Promise<void> {
  if (!connection.is_open()) return Promise.resolve();
  return new Promise((resolve) => {
    connection.once("connection_close", () => resolve());
    connection.once("disconnected", () => resolve());
    connection.close();
  });
}
