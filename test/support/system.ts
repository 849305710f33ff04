import pg from "pg";
import type { DistributedApplication } from "@outbox/apphost";

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
