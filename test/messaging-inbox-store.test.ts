import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { createLogger } from "@outbox/service-defaults";
import {
  createInbox,
  defineMessageTypes,
  messageVersion,
  RetryLaterError,
  type ConsumerOptions,
  type ContractName,
  type InboundMessage,
  type IncomingEnvelope,
  type InboxOutcome,
  type InboxTransaction,
  type Transport,
} from "@outbox/messaging";
import pg from "pg";
import { z } from "zod";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import { migrationsFolder } from "../receiver-service/src/data/db.js";

// The inbox's database side through createInbox against a real PostgreSQL: the upgrade of the
// receiver's single-group inbox (no redelivered message applied twice after it), several groups in
// one table, duplicates, poison, deferral and the one-at-a-time fallback. The broker side is a
// transport that hands the test's batches to the consumer's handler (the seam's contract): the
// Artemis end to end is test/messaging-inbox.test.ts.
let app: DistributedApplication;
let owner: pg.Pool;
const logger = createLogger("messaging-inbox-store-test", "error");

beforeAll(async () => {
  const model = createApp();
  model.addPostgres("inbox-pg").addDatabase("inboxdb");
  app = await startTestApp({ model });
  owner = new pg.Pool({ connectionString: app.getMigrationsConnectionString("inboxdb"), max: 4 });
  // PostgreSQL stopping at the end terminates idle connections: not an error of the test.
  owner.on("error", () => undefined);
});

afterAll(async () => {
  await owner?.end();
  await stopTestApp(app);
});

const types = defineMessageTypes({
  NoteCreated: { 1: messageVersion(z.object({ text: z.string() })) },
});

/** A transport whose one consumer is driven by the test: `deliver` runs a batch through its handler. */
function drivenTransport(): {
  transport: Transport;
  deliver: (batch: InboundMessage<IncomingEnvelope>[]) => Promise<InboxOutcome[]>;
} {
  let options: ConsumerOptions<ContractName, InboxOutcome> | undefined;
  const unused = (): never => {
    throw new Error("not used by this test");
  };
  const transport: Transport = {
    name: "test",
    publisher: unused,
    receiptPublisher: unused,
    deadLetters: unused,
    open: () => undefined,
    isConnected: () => true,
    close: () => Promise.resolve(),
    consumer: <K extends ContractName, O>(consumerOptions: ConsumerOptions<K, O & InboxOutcome>) => {
      options = consumerOptions as unknown as ConsumerOptions<ContractName, InboxOutcome>;
      return {
        start: () => undefined,
        stop: () => Promise.resolve(),
        state: () => ({
          attached: true,
          paused: false,
          inFlight: 0,
          received: 0,
          undecodable: 0,
          pauses: 0,
          probes: 0,
        }),
      };
    },
  } as Transport;
  return {
    transport,
    async deliver(batch) {
      if (options === undefined) throw new Error("no consumer started");
      const handle = options.handle as (
        batch: readonly InboundMessage<IncomingEnvelope>[],
        context: { signal: AbortSignal },
      ) => Promise<readonly InboxOutcome[]>;
      const outcomes = [...(await handle(batch, { signal: new AbortController().signal }))];
      outcomes.forEach((outcome, i) => {
        const message = batch[i];
        if (message !== undefined) options?.onSettled?.(outcome, message);
      });
      return outcomes;
    },
  };
}

function note(
  messageId: string,
  text = messageId,
  type = "NoteCreated",
  attempt = 1,
): InboundMessage<IncomingEnvelope> {
  return {
    messageId,
    key: `note-${messageId}`,
    value: { messageId, type, version: 1, aggregateId: `note-${messageId}`, payload: { text } },
    trace: {},
    attempt,
    native: undefined,
  };
}

async function rows<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  return (await owner.query<T>(sql, values)).rows;
}

/** Handlers that write the effect into `${schema}.effects` with the inbox's transaction. */
function effectHandlers(schema: string, group: string) {
  return types.registry({
    NoteCreated: async (message, tx: InboxTransaction) => {
      if (message.payload.text === "later") throw new RetryLaterError("predecessor missing");
      // text "bad" breaks a check constraint: a data error, poison for this message alone.
      await tx.query(`insert into ${schema}.effects (grp, message_id, text) values ($1, $2, $3)`, [
        group,
        message.messageId,
        message.payload.text,
      ]);
    },
  });
}

describe("createInbox on PostgreSQL", () => {
  it("upgrades the receiver's single-group inbox: no message in it is applied again", async () => {
    // The receiver's schema before the library (its drizzle migrations alone): inbox (primary key
    // message_id) with live rows.
    await migrate(drizzle(owner), { migrationsFolder });
    await owner.query(`insert into inbox (message_id, type, version, aggregate_id, processed_at)
                       values ('old-1', 'NoteCreated', 1, 'note-old-1', now()),
                              ('old-2', 'NoteCreated', 1, 'note-old-2', now())`);
    await owner.query(
      "create table public.effects (grp text, message_id text, text text check (text <> 'bad'))",
    );
    const before = await rows<{ columns: string }>(
      `select string_agg(a.attname, ',' order by a.attnum) as columns
         from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
        where i.indrelid = 'public.inbox'::regclass and i.indisprimary`,
    );
    expect(before[0]?.columns).toBe("message_id");

    const inbox = createInbox({
      tables: { duplicates: "duplicate_deliveries", failures: "delivery_failures" },
    });
    expect((await inbox.migrate(owner)).applied).toEqual(["0001_inbox.sql"]);
    expect((await inbox.migrate(owner)).applied).toEqual([]);

    const after = await rows<{ columns: string }>(
      `select string_agg(a.attname, ',' order by array_position(i.indkey, a.attnum)) as columns
         from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
        where i.indrelid = 'public.inbox'::regclass and i.indisprimary`,
    );
    expect(after[0]?.columns).toBe("consumer_group,message_id");
    expect(await rows("select consumer_group, message_id from inbox order by message_id")).toEqual([
      { consumer_group: "*", message_id: "old-1" },
      { consumer_group: "*", message_id: "old-2" },
    ]);

    const { transport, deliver } = drivenTransport();
    const running = inbox.startConsumer({
      pool: owner,
      transport,
      source: "notes",
      group: "receiver",
      logger,
      batchSize: 10,
      handlers: effectHandlers("public", "receiver"),
    });
    try {
      // Redelivered after the upgrade, in a batch with a new one, and alone.
      const batch = await deliver([note("old-1", "old-1", "NoteCreated", 2), note("new-1")]);
      expect(batch.map((o) => (o.action === "accept" ? o.result : o.action))).toEqual([
        "duplicate",
        "applied",
      ]);
      const alone = await deliver([note("old-2", "old-2", "NoteCreated", 3)]);
      expect(alone).toMatchObject([{ action: "accept", result: "duplicate" }]);
      expect(await rows("select message_id from public.effects order by message_id")).toEqual([
        { message_id: "new-1" },
      ]);
      // The skipped duplicates are recorded in the receiver's own table.
      await expect
        .poll(async () =>
          rows("select message_id, consumer_group from duplicate_deliveries order by message_id"),
        )
        .toEqual([
          { message_id: "old-1", consumer_group: "receiver" },
          { message_id: "old-2", consumer_group: "receiver" },
        ]);
    } finally {
      await running.stop();
    }
  });

  it("applies each message once per group in a custom schema; poison, deferral and fallback fail only their message", async () => {
    const schema = "notes_app";
    const inbox = createInbox({ schema, tablePrefix: "t_" });
    await inbox.migrate(owner);
    await owner.query(
      `create table ${schema}.effects (grp text, message_id text, text text check (text <> 'bad'))`,
    );
    expect(
      (
        await rows<{ table_name: string }>(
          "select table_name from information_schema.tables where table_schema = $1 order by table_name",
          [schema],
        )
      ).map((r) => r.table_name),
    ).toEqual(["effects", "t_inbox", "t_inbox_duplicates", "t_inbox_failures", "t_messaging_migrations"]);

    const groups = ["projector", "search"].map((group) => {
      const driven = drivenTransport();
      const running = inbox.startConsumer({
        pool: owner,
        transport: driven.transport,
        source: "notes",
        group,
        logger,
        batchSize: 10,
        handlers: effectHandlers(schema, group),
      });
      return { group, ...driven, running };
    });
    try {
      for (const { deliver } of groups) {
        const outcomes = await deliver([
          note("m1"),
          note("m2"),
          note("m1"),
          note("m3", "later"),
          note("m4", "x", "Unknown"),
        ]);
        expect(outcomes.map((o) => (o.action === "accept" ? o.result : o.action))).toEqual([
          "applied",
          "applied",
          "duplicate",
          "retry",
          "reject",
        ]);
        // A data error fails the batch; one at a time, only the bad message is poison.
        const fallback = await deliver([note("m5"), note("m6", "bad"), note("m1")]);
        expect(fallback.map((o) => (o.action === "accept" ? o.result : o.action))).toEqual([
          "applied",
          "reject",
          "duplicate",
        ]);
      }
      expect(await rows(`select grp, message_id from ${schema}.effects order by grp, message_id`)).toEqual(
        ["projector", "search"].flatMap((grp) =>
          ["m1", "m2", "m5"].map((message_id) => ({ grp, message_id })),
        ),
      );
      // m3 was deferred: no inbox row, so its redelivery applies it.
      expect(await rows(`select count(*)::int as n from ${schema}.t_inbox where message_id = 'm3'`)).toEqual([
        { n: 0 },
      ]);
      await expect
        .poll(async () =>
          rows(`select consumer_group, message_id, kind from ${schema}.t_inbox_failures order by 1, 2`),
        )
        .toEqual(
          ["projector", "search"].flatMap((consumer_group) => [
            { consumer_group, message_id: "m3", kind: "transient" },
            { consumer_group, message_id: "m4", kind: "poison" },
            { consumer_group, message_id: "m6", kind: "poison" },
          ]),
        );
    } finally {
      await Promise.all(groups.map(({ running }) => running.stop()));
    }
  });
});
