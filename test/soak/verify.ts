import type { DistributedApplication } from "@outbox/apphost";
import pg from "pg";
import type { FaultRecord } from "./chaos.js";
import { attributeToFaults, countByFault, type AttributedEvent } from "./fault-attribution.js";
import type { Confirmed } from "./load.js";

export interface Verdict {
  /** Confirmed entities or versions the receiver never applied. */
  lost: number;
  /** Effects applied more than once (per consumer group), plus entities created twice on the sender. */
  duplicates_applied: number;
  /** Versions applied out of order or with a gap (the receiver's version history and the audit log). */
  out_of_order: number;
  /** Updates that reached the receiver before their predecessor (refused, redelivered later). */
  out_of_order_arrivals: number;
  /** Outbox rows not `delivered` at the end. */
  not_delivered: number;
  /** Messages rejected as poison by a consumer (nothing was injected as poison). */
  dead_lettered: number;
  /**
   * Repeat deliveries of an already applied message with delivery-count 0, the inbox skipped them.
   * A copy and a redelivery look alike here; the witness queue (copies_on_queue) tells them apart.
   */
  redeliveries_uncounted: number;
  /** The same, counted by the broker or receiver fault that came last before each (fault-attribution.ts). */
  redeliveries_uncounted_after: Record<string, number>;
  /** The first 50 of them: when the inbox skipped each, and the fault before. */
  redeliveries_uncounted_log: Array<AttributedEvent & { group: string | null }>;
  /** Redeliveries the broker knew of (delivery-count > 0) that the inbox skipped. */
  redeliveries_skipped: number;
  /** Audit group: messages missing from its log. */
  audit_missing: number;
}

async function rows<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** True once every outbox row is delivered and the receiver holds every confirmed version. */
export async function drained(app: DistributedApplication, confirmed: Confirmed): Promise<boolean> {
  const [outbox] = await rows<{ n: number }>(
    app.getConnectionString("senderdb"),
    "SELECT count(*)::int AS n FROM outbox_messages WHERE status <> 'delivered'",
  );
  if ((outbox?.n ?? 1) > 0) return false;
  const expected = [...confirmed.versions.values()].reduce((sum, v) => sum + v, 0);
  const [applied] = await rows<{ n: number }>(
    app.getConnectionString("receiverdb"),
    "SELECT count(*)::int AS n FROM received_item_versions",
  );
  return (applied?.n ?? 0) >= expected;
}

/** How many rows the outbox holds (each must reach the witness queue once). */
export async function outboxRows(app: DistributedApplication): Promise<number> {
  const [row] = await rows<{ n: number }>(
    app.getConnectionString("senderdb"),
    "SELECT count(*)::int AS n FROM outbox_messages",
  );
  return row?.n ?? 0;
}

/** Longest time a row waited between commit and publish (ms), from the outbox itself. */
export async function longestPendingMs(app: DistributedApplication): Promise<number> {
  const [row] = await rows<{ ms: number | null }>(
    app.getConnectionString("senderdb"),
    "SELECT (extract(epoch FROM max(published_at - created_at)) * 1000)::float8 AS ms FROM outbox_messages",
  );
  return Math.round(row?.ms ?? 0);
}

export async function verify(
  app: DistributedApplication,
  confirmed: Confirmed,
  faults: FaultRecord[],
): Promise<Verdict> {
  const senderDb = app.getConnectionString("senderdb");
  const receiverDb = app.getConnectionString("receiverdb");

  const history = await rows<{ entity_id: string; version: number; message_id: string }>(
    receiverDb,
    "SELECT entity_id::text, version, message_id FROM received_item_versions ORDER BY seq",
  );
  const applied = new Map<string, number[]>();
  for (const h of history) applied.set(h.entity_id, [...(applied.get(h.entity_id) ?? []), h.version]);

  let lost = 0;
  let outOfOrder = 0;
  for (const [id, version] of confirmed.versions) {
    const versions = applied.get(id) ?? [];
    for (let v = 1; v <= version; v++) if (!versions.includes(v)) lost += 1;
    versions.forEach((v, i) => {
      if (v !== i + 1) outOfOrder += 1;
    });
  }
  // The audit group's log, in the order it was appended: each aggregate's versions 1, 2, 3, ...
  const logged = await rows<{ aggregate_id: string; aggregate_version: number }>(
    receiverDb,
    "SELECT aggregate_id, aggregate_version FROM audit_log ORDER BY position",
  );
  const auditVersions = new Map<string, number[]>();
  for (const l of logged)
    auditVersions.set(l.aggregate_id, [...(auditVersions.get(l.aggregate_id) ?? []), l.aggregate_version]);
  for (const versions of auditVersions.values()) {
    versions.forEach((v, i) => {
      if (v !== i + 1) outOfOrder += 1;
    });
  }
  const distinctMessages = new Set(history.map((h) => h.message_id)).size;
  const [senderTwice] = await rows<{ n: number }>(
    senderDb,
    "SELECT (count(*) - count(DISTINCT name))::int AS n FROM entity_items WHERE name LIKE 'soak-%' AND version = 1",
  );
  const [auditDup] = await rows<{ n: number }>(
    receiverDb,
    "SELECT (count(*) - count(DISTINCT message_id))::int AS n FROM audit_log",
  );
  const [outbox] = await rows<{ not_delivered: number; total: number }>(
    senderDb,
    "SELECT count(*) FILTER (WHERE status <> 'delivered')::int AS not_delivered, count(*)::int AS total FROM outbox_messages",
  );
  const [audit] = await rows<{ n: number }>(receiverDb, "SELECT count(*)::int AS n FROM audit_log");
  const [failures] = await rows<{ gaps: number; poison: number }>(
    receiverDb,
    `SELECT count(*) FILTER (WHERE error LIKE '%version gap%')::int AS gaps,
            count(*) FILTER (WHERE kind = 'poison')::int AS poison FROM delivery_failures`,
  );
  const uncounted = await rows<{ occurred_at: Date; consumer_group: string | null }>(
    receiverDb,
    "SELECT occurred_at, consumer_group FROM duplicate_deliveries WHERE delivery_count = 0 ORDER BY occurred_at",
  );
  const attributed = attributeToFaults(
    uncounted.map((u) => u.occurred_at),
    faults,
    ["broker", "receiver"],
  );
  const [counted] = await rows<{ n: number }>(
    receiverDb,
    "SELECT count(*)::int AS n FROM duplicate_deliveries WHERE delivery_count > 0",
  );
  return {
    lost,
    redeliveries_uncounted: uncounted.length,
    redeliveries_uncounted_after: countByFault(attributed),
    redeliveries_uncounted_log: attributed
      .slice(0, 50)
      .map((event, i) => ({ ...event, group: uncounted[i]?.consumer_group ?? null })),
    redeliveries_skipped: counted?.n ?? 0,
    duplicates_applied: history.length - distinctMessages + (senderTwice?.n ?? 0) + (auditDup?.n ?? 0),
    out_of_order: outOfOrder,
    out_of_order_arrivals: failures?.gaps ?? 0,
    not_delivered: outbox?.not_delivered ?? 0,
    dead_lettered: failures?.poison ?? 0,
    audit_missing: Math.max(0, (outbox?.total ?? 0) - (audit?.n ?? 0)),
  };
}
