// Checks, right after start, that the running broker really has the topology we rendered.
//
// Artemis does not fail start-up on a broker.properties key it cannot apply: it lists the key
// only under `configuration.properties."broker.properties".errors` of the management operation
// `broker.getStatus` (never in the log). A divert or queue that silently did not apply means
// messages `accepted` and routed nowhere, so a failed key must stop the AppHost, by name.

import { randomUUID } from "node:crypto";
import rhea, { type Connection, type EventContext, type Message, type Sender, type Source } from "rhea";
import type { ArtemisTopology } from "./topology.js";

export interface BrokerEndpoint {
  host: string;
  port: number;
  username: string;
  password: string;
}

export class TopologyVerificationError extends Error {
  override name = "TopologyVerificationError";
}

/** One broker.properties entry the broker could not apply, as getStatus reports it. */
export interface PropertyError {
  /** The key (or `key=value` text) the broker names. */
  key: string;
  reason: string;
}

/** Reads the broker.properties errors out of the JSON text `broker.getStatus` returns. */
export function propertyErrorsFromStatus(statusJson: string): PropertyError[] {
  let status: unknown;
  try {
    status = JSON.parse(statusJson);
  } catch {
    throw new TopologyVerificationError(`broker.getStatus returned no JSON: ${statusJson.slice(0, 200)}`);
  }
  const properties = (status as { configuration?: { properties?: Record<string, unknown> } }).configuration
    ?.properties;
  const errors: PropertyError[] = [];
  for (const [file, entry] of Object.entries(properties ?? {})) {
    const list = (entry as { errors?: unknown } | undefined)?.errors;
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      const record = (typeof item === "object" && item !== null ? item : { value: item }) as Record<
        string,
        unknown
      >;
      const key = text(record.value ?? record.key ?? record.name ?? item);
      const reason = text(record.reason ?? record.message ?? "not applied");
      errors.push({ key: file === "broker.properties" ? key : `${file}: ${key}`, reason });
    }
  }
  return errors;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Every queue the topology declares: the queues of its addresses (consumer-group queues included). */
export function declaredQueues(topology: ArtemisTopology): string[] {
  return topology.addresses.flatMap((a) => a.queues.map((q) => q.name));
}

/**
 * Asks the broker (AMQP management) for its status, duplicate-id cache size and queue names, and
 * throws TopologyVerificationError naming every key that failed to apply, a cache size other than
 * the declared one, or a declared queue the broker does not have.
 */
export async function verifyBrokerTopology(
  endpoint: BrokerEndpoint,
  topology: ArtemisTopology,
  timeoutMs = 30_000,
): Promise<void> {
  const management = await ManagementSession.open(endpoint, timeoutMs);
  try {
    const problems: string[] = [];
    const status = await management.call("broker", "getStatus");
    for (const error of propertyErrorsFromStatus(String(status))) {
      problems.push(`broker.properties key ${error.key} was not applied: ${error.reason}`);
    }
    const expectedCache = topology.idCacheSize ?? 20000;
    const cacheSize = Number(await management.attribute("broker", "IDCacheSize"));
    if (cacheSize !== expectedCache) {
      problems.push(`duplicate-id cache size is ${String(cacheSize)}, expected ${String(expectedCache)}`);
    }
    const names = await management.call("broker", "getQueueNames");
    const present = new Set(Array.isArray(names) ? names.map(String) : []);
    for (const queue of declaredQueues(topology)) {
      if (!present.has(queue)) problems.push(`queue "${queue}" does not exist on the broker`);
    }
    if (problems.length > 0) {
      throw new TopologyVerificationError(
        `Artemis did not apply the declared topology:\n  - ${problems.join("\n  - ")}`,
      );
    }
  } finally {
    management.close();
  }
}

/** A short-lived management session: one connection, one sender, one dynamic reply receiver. */
class ManagementSession {
  private readonly pending = new Map<string, (message: Message) => void>();

  private constructor(
    private readonly connection: Connection,
    private readonly sender: Sender,
    private readonly replyTo: string,
    private readonly timeoutMs: number,
  ) {}

  static async open(endpoint: BrokerEndpoint, timeoutMs: number): Promise<ManagementSession> {
    const container = rhea.create_container({ id: `apphost-verify-${randomUUID()}` });
    const connection = container.connect({
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.username,
      password: endpoint.password,
      reconnect: false,
    });
    try {
      const replyTo = await withTimeout(
        new Promise<string>((resolve, reject) => {
          connection.once("connection_error", (ctx: EventContext) =>
            reject(new Error(`management connection refused: ${text(ctx.connection.error)}`)),
          );
          connection.once("disconnected", (ctx: EventContext) =>
            reject(new Error(`management connection lost: ${String(ctx.error ?? "closed")}`)),
          );
          // rhea's typings insist on an address, but a dynamic node must not name one.
          const receiver = connection.open_receiver({ source: { dynamic: true } as Source });
          receiver.once("receiver_open", () => {
            const address = (receiver.source as { address?: string } | undefined)?.address;
            if (typeof address === "string") resolve(address);
            else reject(new Error("broker gave no dynamic reply address"));
          });
        }),
        timeoutMs,
        "management reply link did not open",
      );
      // A sender of its own: Artemis' AMQP anonymous relay does not take management requests.
      const sender = connection.open_sender({ target: { address: "activemq.management" } });
      const session = new ManagementSession(connection, sender, replyTo, timeoutMs);
      connection.on("message", (ctx: EventContext) => {
        const id = ctx.message?.correlation_id ?? ctx.message?.message_id;
        const handler = typeof id === "string" ? session.pending.get(id) : undefined;
        if (handler && ctx.message) handler(ctx.message);
      });
      return session;
    } catch (error) {
      connection.close();
      throw new TopologyVerificationError(
        `Could not read the broker's status over management: ${(error as Error).message}`,
      );
    }
  }

  call(resource: string, operation: string, args: unknown[] = []): Promise<unknown> {
    return this.request({ _AMQ_ResourceName: resource, _AMQ_OperationName: operation }, args);
  }

  attribute(resource: string, name: string): Promise<unknown> {
    return this.request({ _AMQ_ResourceName: resource, _AMQ_Attribute: name }, []);
  }

  close(): void {
    this.connection.close();
  }

  private async request(properties: Record<string, string>, args: unknown[]): Promise<unknown> {
    const id = randomUUID();
    const what = String(properties._AMQ_OperationName ?? properties._AMQ_Attribute);
    const reply = withTimeout(
      new Promise<Message>((resolve) => this.pending.set(id, resolve)),
      this.timeoutMs,
      `management ${what} got no reply`,
    ).finally(() => this.pending.delete(id));
    this.sender.send({
      message_id: id,
      reply_to: this.replyTo,
      application_properties: properties,
      body: JSON.stringify(args),
    });
    const message = await reply;
    const text = typeof message.body === "string" ? message.body : JSON.stringify(message.body ?? null);
    const succeeded = (message.application_properties as Record<string, unknown> | undefined)
      ?._AMQ_OperationSucceeded;
    if (succeeded !== true) throw new TopologyVerificationError(`management ${what} failed: ${text}`);
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? parsed[0] : parsed;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${message} within ${String(ms)} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * What a provider calls once its broker is ready: verifies the topology and, when it was not
 * applied, stops the broker it just started (nothing else would) before failing the start.
 */
export async function verifyTopologyOrStop(
  endpoint: BrokerEndpoint,
  topology: ArtemisTopology,
  stopBroker: () => Promise<unknown>,
): Promise<void> {
  try {
    await verifyBrokerTopology(endpoint, topology);
  } catch (error) {
    await stopBroker().catch(() => {});
    throw error;
  }
}
