import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readMigrationFiles, renderMigrations, renderSql } from "./migrator.js";

describe("renderSql", () => {
  it("substitutes quoted identifiers for ${schema} and ${prefix}name", () => {
    const sql =
      "CREATE TABLE ${schema}.${prefix}outbox_messages (id uuid); CREATE INDEX ${prefix}x_idx ON ${schema}.${prefix}t (id);";
    expect(renderSql(sql, { schema: "notes_app", tablePrefix: "n_" })).toBe(
      'CREATE TABLE "notes_app"."n_outbox_messages" (id uuid); CREATE INDEX "n_x_idx" ON "notes_app"."n_t" (id);',
    );
    expect(renderSql(sql, { schema: "public", tablePrefix: "" })).toBe(
      'CREATE TABLE "public"."outbox_messages" (id uuid); CREATE INDEX "x_idx" ON "public"."t" (id);',
    );
  });

  it.each([
    [{ schema: "Notes", tablePrefix: "" }, /invalid schema "Notes"/],
    [{ schema: "a;drop", tablePrefix: "" }, /invalid schema/],
    [{ schema: "", tablePrefix: "" }, /invalid schema ""/],
    [{ schema: "public", tablePrefix: "x-" }, /invalid tablePrefix "x-"/],
    [{ schema: "public", tablePrefix: '"' }, /invalid tablePrefix/],
  ])("refuses bad names %j", (names, message) => {
    expect(() => renderSql("SELECT 1 FROM ${schema}.${prefix}t", names)).toThrow(message);
  });

  it("refuses a prefix that makes a name longer than PostgreSQL keeps", () => {
    expect(() => renderSql("${prefix}outbox_messages", { schema: "s", tablePrefix: "p".repeat(50) })).toThrow(
      /longer than PostgreSQL's 63 characters/,
    );
  });

  it("refuses unknown placeholders and a bare ${prefix}", () => {
    expect(() => renderSql("${schemas}.t", { schema: "s", tablePrefix: "" })).toThrow(
      /unknown placeholder \$\{schemas\}/,
    );
    expect(() => renderSql("'${prefix}'", { schema: "s", tablePrefix: "" })).toThrow(/must start a name/);
  });
});

describe("migration files", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("are read in name order with a checksum of the file as shipped", () => {
    dir = mkdtempSync(join(tmpdir(), "migrator-"));
    writeFileSync(join(dir, "0002_b.sql"), "SELECT 2 FROM ${schema}.${prefix}b;");
    writeFileSync(join(dir, "0001_a.sql"), "SELECT 1 FROM ${schema}.${prefix}a;");
    writeFileSync(join(dir, "README.md"), "not SQL");
    const files = readMigrationFiles({ part: "test", directory: dir });
    expect(files.map((f) => f.name)).toEqual(["0001_a.sql", "0002_b.sql"]);
    expect(files[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
    const rendered = renderMigrations({ part: "test", directory: dir, schema: "s", tablePrefix: "p_" });
    expect(rendered.map((r) => r.sql)).toEqual(['SELECT 1 FROM "s"."p_a";', 'SELECT 2 FROM "s"."p_b";']);
    expect(rendered[0]?.checksum).toBe(files[0]?.checksum);
  });

  it("an empty or missing directory is a clear error", () => {
    const empty = mkdtempSync(join(tmpdir(), "migrator-"));
    dir = empty;
    expect(() => readMigrationFiles({ part: "test", directory: empty })).toThrow(/no test migrations/);
    expect(() => readMigrationFiles({ part: "test", directory: join(empty, "nope") })).toThrow(
      /cannot read the test migrations/,
    );
  });
});
