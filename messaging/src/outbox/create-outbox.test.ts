import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { createOutbox } from "./create-outbox.js";
import type { StartRelayOptions } from "./start-relay.js";

describe("createOutbox", () => {
  it("defaults to the sender's names: public, no prefix, channel outbox_messages", () => {
    const outbox = createOutbox();
    expect(outbox.names).toEqual({
      schema: "public",
      tablePrefix: "",
      notifyChannel: "outbox_messages",
      messagesTable: '"public"."outbox_messages"',
      attemptsTable: '"public"."outbox_attempts"',
      journalTable: '"public"."messaging_migrations"',
    });
  });

  it("qualifies the default channel by a custom schema, so two outboxes do not wake each other", () => {
    expect(createOutbox({ schema: "notes_app", tablePrefix: "n_" }).names.notifyChannel).toBe(
      "notes_app.n_outbox_messages",
    );
    expect(createOutbox({ notifyChannel: "mine" }).names.notifyChannel).toBe("mine");
  });

  it.each([
    [{ schema: "Notes" }, /invalid schema "Notes"/],
    [{ tablePrefix: "a b" }, /invalid tablePrefix "a b"/],
    [{ tablePrefix: "p".repeat(20) }, /longer than PostgreSQL's 63 characters/],
    [{ notifyChannel: "" }, /notifyChannel must be 1..63 characters/],
  ])("refuses %j", (config, error) => {
    expect(() => createOutbox(config)).toThrow(error);
  });
});

describe("startRelay's options", () => {
  // Never connected: the checks run before the relay opens anything.
  const pool = new pg.Pool({ connectionString: "postgresql://nobody@127.0.0.1:1/none" });
  afterAll(() => pool.end());
  const logger = { child: () => logger } as unknown as StartRelayOptions["logger"];
  const base: StartRelayOptions = { pool, destination: "d", owner: "o", logger };

  it.each<[Partial<StartRelayOptions>, RegExp]>([
    [{}, /pass a transport or a publisher/],
    [{ destination: "" }, /destination must be a non-empty string/],
    [{ owner: "" }, /owner must be a non-empty string/],
    [{ batchSize: 0 }, /batchSize must be a positive integer/],
    [
      { leaseMs: 10_000, sendTimeoutMs: 6_000 },
      /sendTimeoutMs \(6000\) must be at most half of leaseMs \(10000\)/,
    ],
    [{ backoff: { minMs: 10, maxMs: 5 } }, /backoff needs 0 < minMs <= maxMs/],
    [{ retention: { retentionMs: -1 } }, /retention.retentionMs must be a positive integer/],
  ])("refuses %j", (change, error) => {
    expect(() => createOutbox().startRelay({ ...base, ...change })).toThrow(error);
  });
});
