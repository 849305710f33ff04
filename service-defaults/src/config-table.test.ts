import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describeConfig, readMarkedBlock, renderConfigTable, replaceMarkedBlock } from "./config-table.js";

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).describe("HTTP port."),
  BATCH: z.coerce.number().int().positive().default(100).describe("Rows per batch."),
  RETENTION_MS: z.coerce.number().int().min(0).default(604_800_000).describe("Keep | this long."),
  RATIO: z.coerce.number().positive().max(1).default(0.5).describe("A fraction."),
  FLAG: z
    .enum(["yes", "no"])
    .default("no")
    .transform((v) => v === "yes")
    .describe("On or off."),
  ENDPOINT: z.url().optional().describe("Where to send."),
  NAME: z.string().min(1).default("x").describe("A name,\n  on two lines."),
});

describe("describeConfig", () => {
  it("lists every variable in declaration order with its type, default and description", () => {
    expect(describeConfig(schema)).toEqual([
      { name: "PORT", type: "integer 0–65535", default: "required", description: "HTTP port." },
      { name: "BATCH", type: "integer ≥ 1", default: "100", description: "Rows per batch." },
      { name: "RETENTION_MS", type: "integer ≥ 0", default: "604800000", description: "Keep | this long." },
      { name: "RATIO", type: "number > 0 ≤ 1", default: "0.5", description: "A fraction." },
      { name: "FLAG", type: "`yes` \\| `no`", default: "no", description: "On or off." },
      { name: "ENDPOINT", type: "URL", default: "unset", description: "Where to send." },
      { name: "NAME", type: "text", default: "x", description: "A name,\n  on two lines." },
    ]);
  });

  it("leaves out the variables it is told to", () => {
    expect(describeConfig(schema, { omit: ["PORT", "NAME"] }).map((v) => v.name)).toEqual([
      "BATCH",
      "RETENTION_MS",
      "RATIO",
      "FLAG",
      "ENDPOINT",
    ]);
  });

  it("refuses a schema whose variables lack a description, naming them", () => {
    const bare = z.object({ A: z.string(), B: z.string().describe("b"), C: z.coerce.number().default(1) });
    expect(() => describeConfig(bare)).toThrow("no description (zod .describe()) for A, C");
  });
});

describe("renderConfigTable", () => {
  it("renders one markdown row per variable, cells on one line with pipes escaped", () => {
    const table = renderConfigTable(schema, { omit: ["BATCH", "RATIO", "ENDPOINT"] });
    expect(table).toBe(
      [
        "| Variable | Type | Default | Description |",
        "| --- | --- | --- | --- |",
        "| `PORT` | integer 0–65535 | required | HTTP port. |",
        "| `RETENTION_MS` | integer ≥ 0 | `604800000` | Keep \\| this long. |",
        "| `FLAG` | `yes` \\| `no` | `no` | On or off. |",
        "| `NAME` | text | `x` | A name, on two lines. |",
        "",
      ].join("\n"),
    );
  });
});

describe("marked blocks", () => {
  const document = "# Title\n\n<!-- config:x:start -->\nold table\n<!-- config:x:end -->\n\nAfter.\n";

  it("reads and replaces the text between a block's markers, keeping the rest", () => {
    expect(readMarkedBlock(document, "x")).toBe("old table");
    const next = replaceMarkedBlock(document, "x", "| new |\n");
    expect(next).toBe("# Title\n\n<!-- config:x:start -->\n\n| new |\n\n<!-- config:x:end -->\n\nAfter.\n");
    expect(replaceMarkedBlock(next, "x", "| new |")).toBe(next);
  });

  it("says which markers are missing, repeated or out of order", () => {
    expect(() => readMarkedBlock(document, "y")).toThrow(
      "markers <!-- config:y:start --> … <!-- config:y:end --> not found",
    );
    expect(() => readMarkedBlock(document + document, "x")).toThrow('markers of "x" appear more than once');
    expect(() => readMarkedBlock("<!-- config:x:end --> <!-- config:x:start -->", "x")).toThrow(
      "<!-- config:x:end --> comes before <!-- config:x:start -->",
    );
  });
});
