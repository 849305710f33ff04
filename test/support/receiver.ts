import { randomUUID } from "node:crypto";
import rhea from "rhea";
import type { Connection, Message } from "rhea";
import type { DistributedApplication } from "@outbox/apphost";
import { query } from "./system.js";
import { adminFetch } from "./admin.js";

/** Polls `check` until it returns a value other than undefined, or fails after timeoutMs. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const cause = last instanceof Error ? `: ${last.message}` : "";
  throw new Error(`timed out waiting for ${what}${cause}`);
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  // Carries the service's admin token when the test registered its app (support/admin.ts).
  const response = await adminFetch(url, init);
  const text = await response.text();
  return { status: response.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
}

/** A plain AMQP connection to the test broker, for injecting messages the sender would never send. */
export async function connectToBroker(app: DistributedApplication): Promise<Connection> {
  const url = new URL(app.getConnectionString("broker"));
  const container = rhea.create_container({ id: `test-${randomUUID()}` });
  const connection = container.connect({
    host: url.hostname,
    port: Number(url.port),
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    reconnect: false,
  });
  await new Promise<void>((resolve, reject) => {
    connection.once("connection_open", () => resolve());
    connection.once("connection_error", () => reject(new Error("AMQP connection refused")));
    connection.once("disconnected", () => reject(new Error("AMQP connection failed")));
  });
  return connection;
}

/** Sends one durable message and resolves on the broker's `accepted`. */
export async function sendAndConfirm(
  connection: Connection,
  address: string,
  message: Message,
): Promise<void> {
  const sender = connection.open_sender({ target: { address } });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`send to ${address} timed out`)), 15_000);
      sender.once("sendable", () => {
        sender.send({ durable: true, ...message });
      });
      sender.once("accepted", () => {
        clearTimeout(timer);
        resolve();
      });
      for (const failure of ["rejected", "released", "modified", "sender_error"]) {
        sender.once(failure, () => {
          clearTimeout(timer);
          reject(new Error(`send to ${address}: ${failure}`));
        });
      }
    });
  } finally {
    sender.close();
  }
}

/** An EntityItemCreated v1 message exactly as the relay builds it (see the message contract). */
export function entityItemCreatedMessage(
  entity: { id: string; name: string; description: string | null; createdAt: string },
  options: { messageId?: string; duplicateId?: string; version?: number; body?: string } = {},
): Message {
  const messageId = options.messageId ?? randomUUID();
  return {
    message_id: messageId,
    subject: "EntityItemCreated",
    group_id: entity.id,
    content_type: "application/json",
    application_properties: {
      _AMQ_DUPL_ID: options.duplicateId ?? messageId,
      type: "EntityItemCreated",
      version: options.version ?? 1,
      aggregate_id: entity.id,
    },
    body: rhea.message.data_section(Buffer.from(options.body ?? JSON.stringify(entity))) as unknown,
  };
}

/** An EntityItemUpdated v1 message bringing `version` of the entity, as the relay builds it. */
export function entityItemUpdatedMessage(
  entity: { id: string; name: string; description: string | null },
  version: number,
  options: { messageId?: string } = {},
): Message {
  const messageId = options.messageId ?? randomUUID();
  const payload = { ...entity, version, updatedAt: new Date().toISOString() };
  return {
    message_id: messageId,
    subject: "EntityItemUpdated",
    group_id: entity.id,
    content_type: "application/json",
    application_properties: {
      _AMQ_DUPL_ID: messageId,
      type: "EntityItemUpdated",
      version: 1,
      aggregate_id: entity.id,
    },
    body: rhea.message.data_section(Buffer.from(JSON.stringify(payload))) as unknown,
  };
}

/** The first column of the first row of `sql`, as a number (e.g. a count(*)). */
export async function count(connectionString: string, sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await query<Record<string, unknown>>(connectionString, sql, params);
  return Number(row === undefined ? 0 : Object.values(row)[0]);
}

export interface DeadLetterView {
  id: number;
  messageId: string | null;
  type: string | null;
  originalAddress: string | null;
  originalQueue: string | null;
  reason: string | null;
  failureKind: "transient" | "poison" | null;
  attempts: number | null;
}

export async function deadLetters(
  receiverUrl: string,
  group?: string,
): Promise<{ group: string; queue: string; count: number; items: DeadLetterView[] }> {
  const suffix = group === undefined ? "" : `?group=${group}`;
  const { status, body } = await getJson<{
    group: string;
    queue: string;
    count: number;
    items: DeadLetterView[];
  }>(`${receiverUrl}/api/DeadLetters${suffix}`);
  if (status !== 200) throw new Error(`GET /api/DeadLetters answered ${status}`);
  return body;
}
