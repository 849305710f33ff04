import { sql, type SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { v7 as uuidv7 } from "uuid";
import type { OutboxHeaders, OutboxTables } from "./tables.js";
import { captureTraceHeaders } from "./trace-context.js";

/** One message to enqueue in the caller's transaction. */
export interface OutboxMessage {
  /** The message id and the broker's deduplication id; a UUIDv7 (time ordered) when absent. */
  id?: string;
  type: string;
  /** Positive integer: the contract version of the payload (default 1). */
  version?: number;
  /** The ordering key (the aggregate id): messages of one key are published in enqueue order. */
  key: string;
  /** Qualifies the key (default ""): order is kept per (aggregateType, key). */
  aggregateType?: string;
  /** Where the relay publishes it: an Artemis address, a Kafka topic. */
  destination: string;
  /** Any JSON value. */
  payload: unknown;
  /** W3C trace context; default: the active span's, so the trace continues through the relay. */
  headers?: OutboxHeaders;
}

/** Producer options for one message (scheduled delivery, priority). */
export interface EnqueueOptions {
  /** The broker holds the message until then. */
  deliverAt?: Date;
  /** 0..9; 4 (the AMQP default) when omitted. */
  priority?: number;
  /**
   * Must be false with deliverAt or a priority other than 4: the broker delivers by time and
   * priority, across message groups, so such a message cannot keep its key's order. Rather than
   * pretend, the combination is refused unless the caller opts out of ordering explicitly; the
   * message is then sent without a message group and ignored by the per-key order check.
   */
  ordered?: boolean;
}

/** deliverAt / priority with per-key order: refused (see EnqueueOptions.ordered). */
export class UnorderedOptionsError extends RangeError {
  constructor() {
    super(
      "deliverAt and priority reorder messages on the broker and cannot keep per-key order: " +
        "pass ordered: false to send this message outside its key's order",
    );
    this.name = "UnorderedOptionsError";
  }
}

/** A plain `pg` client inside BEGIN (pg.PoolClient, pg.Client). */
export interface PgTransactionClient {
  query(text: string, values: unknown[]): Promise<unknown>;
}

/** A drizzle node-postgres transaction (or database: then the insert commits on its own). */
export interface DrizzleTransaction {
  execute(query: SQL): PromiseLike<unknown>;
}

export type EnqueueTransaction = PgTransactionClient | DrizzleTransaction;

const MESSAGE_FIELDS: ReadonlySet<string> = new Set<keyof OutboxMessage>([
  "id",
  "type",
  "version",
  "key",
  "aggregateType",
  "destination",
  "payload",
  "headers",
]);
const OPTION_FIELDS: ReadonlySet<string> = new Set<keyof EnqueueOptions>([
  "deliverAt",
  "priority",
  "ordered",
]);
const RELAY_FIELDS: ReadonlySet<string> = new Set([
  "seq",
  "status",
  "attempts",
  "nextAttemptAt",
  "lockedBy",
  "claimToken",
  "outcomeUnknown",
  "lockedUntil",
  "lastError",
  "createdAt",
  "publishedAt",
  "deliveredAt",
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const dialect = new PgDialect();

/**
 * Inserts the message and announces it with `pg_notify`, in one statement (one round trip) on the
 * caller's transaction: the notification is delivered at COMMIT, never for a rollback, and wakes
 * the relays at once instead of at their next poll. Returns the message id.
 */
export async function enqueueMessage(
  tx: EnqueueTransaction,
  tables: OutboxTables,
  notifyChannel: string,
  message: OutboxMessage,
  options: EnqueueOptions = {},
): Promise<string> {
  const row = validMessage(message);
  const send = validOptions(options);
  const statement = sql`
    with inserted as (
      insert into ${tables.outboxMessages}
        (id, aggregate_type, aggregate_id, type, version, destination, payload, headers, priority, deliver_at, ordered)
      values (${row.id}::uuid, ${row.aggregateType}, ${row.key}, ${row.type}, ${row.version}::int,
              ${row.destination}, ${row.payload}::jsonb, ${row.headers}::jsonb, ${send.priority}::smallint,
              ${send.deliverAt}::timestamptz, ${send.ordered})
      returning destination)
    select pg_notify(${notifyChannel}, destination) from inserted`;
  if (isDrizzle(tx)) {
    await tx.execute(statement);
  } else if (typeof tx === "object" && tx !== null && typeof tx.query === "function") {
    const query = dialect.sqlToQuery(statement);
    await tx.query(query.sql, query.params);
  } else {
    throw new TypeError(
      "enqueue: the transaction must be a pg client (has query()) or a drizzle transaction (has execute())",
    );
  }
  return row.id;
}

function isDrizzle(tx: EnqueueTransaction): tx is DrizzleTransaction {
  // A drizzle database also has a `query` property (its relational API): test execute first.
  return (
    typeof tx === "object" && tx !== null && typeof (tx as Partial<DrizzleTransaction>).execute === "function"
  );
}

interface ValidMessage {
  id: string;
  type: string;
  version: number;
  key: string;
  aggregateType: string;
  destination: string;
  /** JSON text. */
  payload: string;
  headers: string;
}

/**
 * Checks the message and refuses any field that is not the producer's: deliverAt, priority and
 * ordered given there would skip the order guard (they belong in the options), and the relay's
 * columns are not the producer's to set. Checked at run time: a row object typed loosely compiles.
 */
function validMessage(message: OutboxMessage): ValidMessage {
  if (typeof message !== "object" || message === null)
    throw new TypeError("outbox message: expected an object");
  for (const [field, value] of Object.entries(message)) {
    if (value === undefined || MESSAGE_FIELDS.has(field)) continue;
    if (OPTION_FIELDS.has(field))
      throw new TypeError(`outbox message: pass ${field} in the send options, not in the message`);
    if (RELAY_FIELDS.has(field))
      throw new TypeError(`outbox message: ${field} is set by the relay, not by the producer`);
    throw new TypeError(
      `outbox message: unknown field ${field}${field === "aggregateId" ? " (the ordering key is `key`)" : ""}`,
    );
  }
  const id = message.id ?? uuidv7();
  if (typeof id !== "string" || !UUID.test(id))
    throw new TypeError(`outbox message: id must be a UUID, got ${String(id)}`);
  const version = message.version ?? 1;
  if (!Number.isSafeInteger(version) || version < 1 || version > 2_147_483_647)
    throw new TypeError(`outbox message: version must be a positive integer, got ${String(version)}`);
  const payload = JSON.stringify(message.payload);
  if (payload === undefined) throw new TypeError("outbox message: payload must be a JSON value");
  const aggregateType = message.aggregateType ?? "";
  if (typeof aggregateType !== "string")
    throw new TypeError("outbox message: aggregateType must be a string");
  const headers = message.headers ?? captureTraceHeaders();
  if (typeof headers !== "object" || headers === null || Array.isArray(headers))
    throw new TypeError("outbox message: headers must be an object");
  return {
    id,
    type: nonEmpty("type", message.type),
    version,
    key: nonEmpty("key", message.key),
    aggregateType,
    destination: nonEmpty("destination", message.destination),
    payload,
    headers: JSON.stringify(headers),
  };
}

function nonEmpty(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0)
    throw new TypeError(`outbox message: ${field} must be a non-empty string`);
  return value;
}

function validOptions(options: EnqueueOptions): {
  priority: number;
  deliverAt: Date | null;
  ordered: boolean;
} {
  for (const field of Object.keys(options)) {
    if (!OPTION_FIELDS.has(field)) throw new TypeError(`enqueue options: unknown option ${field}`);
  }
  if (
    options.priority !== undefined &&
    !(Number.isInteger(options.priority) && options.priority >= 0 && options.priority <= 9)
  )
    throw new RangeError(`outbox priority must be an integer 0..9, got ${options.priority}`);
  if (
    options.deliverAt !== undefined &&
    !(options.deliverAt instanceof Date && !Number.isNaN(options.deliverAt.getTime()))
  )
    throw new TypeError("enqueue options: deliverAt must be a valid Date");
  if (options.ordered !== undefined && typeof options.ordered !== "boolean")
    throw new TypeError("enqueue options: ordered must be a boolean");
  const reorders =
    options.deliverAt !== undefined || (options.priority !== undefined && options.priority !== 4);
  if (reorders && options.ordered !== false) throw new UnorderedOptionsError();
  return {
    priority: options.priority ?? 4,
    deliverAt: options.deliverAt ?? null,
    ordered: options.ordered ?? true,
  };
}
