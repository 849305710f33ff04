import { createLogger } from "@outbox/service-defaults";
import type pg from "pg";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import type { ConsumerOptions, ContractName, Transport } from "../transport/transport.js";
import { defineMessageTypes, messageVersion } from "./handler-registry.js";
import { InboxConsumer } from "./inbox-consumer.js";
import { inboxTables } from "./inbox-tables.js";
import type { InboxOutcome } from "./process-inbox-batch.js";

// The inbox consumer's records and counters around the transport's settlements (moved from the
// receiver's consumer tests): the transport is the seam's consumer options, driven by the test.

const types = defineMessageTypes({ Note: { 1: messageVersion(z.object({ text: z.string() })) } });

function setup() {
  let options: ConsumerOptions<ContractName, InboxOutcome> | undefined;
  let paused = false;
  const transport = {
    name: "test",
    consumer: (consumerOptions: ConsumerOptions<ContractName, InboxOutcome>) => {
      options = consumerOptions;
      return {
        start: () => undefined,
        stop: () => Promise.resolve(),
        state: () => ({ attached: true, paused, inFlight: 0, received: 0, undecodable: 0 }),
      };
    },
  } as unknown as Transport;
  const failures: unknown[][] = [];
  const query = vi.fn((text: string, values: unknown[]) => {
    if (text.includes("inbox_failures")) failures.push(values);
    return Promise.resolve({ rows: [] });
  });
  const pool = { query } as unknown as pg.Pool;
  const consumer = new InboxConsumer(
    { pool, transport, source: "notes", group: "g", logger: createLogger("test", "silent") },
    inboxTables({ schema: "public", tablePrefix: "" }),
    { registry: types.registry({ Note: () => undefined }) },
    () => false,
  );
  consumer.start();
  if (options === undefined) throw new Error("no transport consumer");
  const seam = options;
  const settle = (outcome: InboxOutcome, attempt = 1) =>
    seam.onSettled?.(outcome, {
      messageId: "m",
      key: "k",
      value: {} as never,
      trace: {},
      attempt,
      native: undefined,
    });
  return {
    consumer,
    seam,
    query,
    failures,
    settle,
    pause: (value: boolean) => {
      paused = value;
    },
  };
}

/** Lets the records' promise chains run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe("InboxConsumer", () => {
  it("records poison and transient failures with the group and attempt, and counts them", async () => {
    const { consumer, settle, failures } = setup();
    settle({ action: "reject", reason: "bad json", messageId: "m" }, 3);
    settle({ action: "retry", reason: "version gap", messageId: "m" }, 1);
    await flush();
    expect(failures).toEqual([
      ["m", "g", 3, "poison", "bad json"],
      ["m", "g", 1, "transient", "version gap"],
    ]);
    expect(consumer.counters).toMatchObject({ rejected: 1, failed: 1, pauses: 0 });
  });

  it("keeps failure records the database refused and writes them once it answers", async () => {
    const { settle, query, failures, seam, pause } = setup();
    query.mockImplementationOnce(() => Promise.reject(new Error("db down")));
    pause(true);
    settle({ action: "retry", reason: "db down", messageId: "m", databaseUnavailable: true });
    await flush();
    expect(failures).toEqual([]);
    pause(false);
    seam.onResume?.();
    await flush();
    expect(failures).toEqual([["m", "g", 1, "transient", "db down"]]);
  });

  it("records a skipped duplicate with its delivery count, and an undecodable delivery as poison", async () => {
    const { consumer, settle, seam, query, failures } = setup();
    settle({ action: "accept", result: "duplicate", messageId: "m", type: "Note", key: "k" }, 2);
    seam.onUndecodable?.("not an envelope", "x");
    await flush();
    expect(query).toHaveBeenCalledWith(expect.stringContaining('"public"."inbox_duplicates"'), ["m", "g", 1]);
    expect(failures).toEqual([["x", "g", 1, "poison", "not an envelope"]]);
    expect(consumer.counters).toMatchObject({ duplicates: 1, rejected: 1 });
  });
});
