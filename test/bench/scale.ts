// Rows already present: the outbox keeps published rows until retention purges them, the inbox
// keeps one row per message ever applied. Both are filled here with generate_series (what a week
// of traffic leaves behind) so the bench can compare the cost of one more message at each size.
import pg from "pg";

export const SCALE_SIZES = [
  { key: "10k", rows: 10_000 },
  { key: "100k", rows: 100_000 },
  { key: "1m", rows: 1_000_000 },
] as const;

// A destination no relay serves: the rows are published already and only take up room.
const SEED_DESTINATION = "bench-scale-seed";

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Adds `count` published outbox rows and `count` inbox rows (both databases in parallel), then
 * VACUUM ANALYZE so the measurement sees the steady state, not autovacuum catching up.
 */
export async function seedFinishedRows(senderDb: string, receiverDb: string, count: number): Promise<void> {
  if (count <= 0) return;
  await Promise.all([
    withClient(senderDb, async (c) => {
      // published_at = now(): inside the retention window, so the purge leaves them alone.
      await c.query(
        `INSERT INTO outbox_messages (id, aggregate_type, aggregate_id, type, version, destination, payload,
                                      status, published_at, delivered_at)
         SELECT gen_random_uuid(), 'EntityItem', gen_random_uuid()::text, 'EntityItemCreated', 1, $2,
                jsonb_build_object('name', 'scale-' || g, 'description', repeat('x', 64)),
                'delivered', now(), now()
           FROM generate_series(1, $1::int) g`,
        [count, SEED_DESTINATION],
      );
      await c.query("VACUUM ANALYZE outbox_messages");
    }),
    withClient(receiverDb, async (c) => {
      await c.query(
        // consumer_group: the inbox keys each row by message and group (the receiver's group here).
        `INSERT INTO inbox (message_id, consumer_group, type, version, aggregate_id, received_at, processed_at)
         SELECT gen_random_uuid()::text, 'receiver', 'EntityItemCreated', 1, gen_random_uuid()::text, now(), now()
           FROM generate_series(1, $1::int) g`,
        [count],
      );
      await c.query("VACUUM ANALYZE inbox");
    }),
  ]);
}

/** Row counts of the two tables (to report what was present during each measurement). */
export async function finishedRowCounts(
  senderDb: string,
  receiverDb: string,
): Promise<{ outbox: number; inbox: number }> {
  const count = (url: string, table: string) =>
    withClient(url, async (c) => {
      const { rows } = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
      return Number(rows[0]?.n ?? 0);
    });
  const [outbox, inbox] = await Promise.all([count(senderDb, "outbox_messages"), count(receiverDb, "inbox")]);
  return { outbox, inbox };
}
