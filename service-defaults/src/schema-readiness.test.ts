import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "./logging.js";
import {
  SchemaNotMigratedError,
  assertSchemaMigrated,
  prepareSchemaAtStart,
  type JournalReader,
} from "./schema-readiness.js";

const folder = fs.mkdtempSync(path.join(os.tmpdir(), "schema-readiness-"));
fs.mkdirSync(path.join(folder, "meta"));
fs.writeFileSync(
  path.join(folder, "meta", "_journal.json"),
  JSON.stringify({
    entries: [
      { tag: "0000_init", when: 100 },
      { tag: "0001_more", when: 200 },
    ],
  }),
);
afterAll(() => fs.rmSync(folder, { recursive: true, force: true }));

function journal(result: string | null | { code: string }): JournalReader {
  return {
    query: () =>
      typeof result === "object" && result !== null
        ? Promise.reject(Object.assign(new Error("refused"), result))
        : Promise.resolve({ rows: [{ applied: result }] }),
  };
}

describe("assertSchemaMigrated", () => {
  it("passes when the newest applied migration is at least the newest shipped one", async () => {
    await expect(assertSchemaMigrated(journal("200"), folder, "appdb")).resolves.toBeUndefined();
    // A database ahead of the code (a roll-back of the code) is not behind.
    await expect(assertSchemaMigrated(journal("300"), folder, "appdb")).resolves.toBeUndefined();
  });

  it("refuses, naming what to run, when migrations are pending, missing or unreadable", async () => {
    for (const [result, says] of [
      ["100", "migrations newer than the database's are pending"],
      [null, "no migration has been applied"],
      [{ code: "3F000" }, "no migration has been applied"],
      [{ code: "42P01" }, "no migration has been applied"],
      [{ code: "42501" }, "its migrations journal is older than this code"],
    ] as const) {
      const error = await assertSchemaMigrated(journal(result), folder, "appdb").catch((e: unknown) => e);
      expect(error, JSON.stringify(result)).toBeInstanceOf(SchemaNotMigratedError);
      expect((error as Error).message).toContain(`the appdb schema is not migrated (${says}`);
      expect((error as Error).message).toContain("this code needs 0001_more");
      expect((error as Error).message).toContain("run the migrations step first");
    }
  });

  it("lets connection errors through, for the caller's retry", async () => {
    const error = await assertSchemaMigrated(journal({ code: "ECONNREFUSED" }), folder, "appdb").catch(
      (e: unknown) => e,
    );
    expect(error).not.toBeInstanceOf(SchemaNotMigratedError);
  });
});

describe("prepareSchemaAtStart's further checks", () => {
  const start = (checks: ReadonlyArray<() => Promise<void>>) =>
    prepareSchemaAtStart({
      connectionName: "appdb",
      env: {},
      migrateAtStart: false,
      runtime: journal("200"),
      migrationsFolder: folder,
      checks,
      migrate: () => Promise.reject(new Error("not called without MIGRATE_AT_START")),
      logger: createLogger("schema-readiness-test", "silent"),
    });

  it("refuses the start when a library's migrations are behind, though drizzle's are applied", async () => {
    const behind = new SchemaNotMigratedError("the outbox migrations are pending");
    await expect(start([() => Promise.resolve(), () => Promise.reject(behind)])).rejects.toBe(behind);
  });

  it("starts when drizzle's and every further check pass", async () => {
    let checked = 0;
    const check = (): Promise<void> => {
      checked++;
      return Promise.resolve();
    };
    await expect(start([check, check])).resolves.toBeUndefined();
    expect(checked).toBe(2);
  });
});
