import { describe, expect, it } from "vitest";
import { brokenTestReferences, findTestReferences, titleIn } from "./test-references.js";

describe("test references in docs", () => {
  it("finds each file with the fragments of every title quoted after it", () => {
    const text =
      'Tests: `test/a.test.ts` "suite › first case" and "second…\n  case"; `b.test.ts`. | `c.test.ts` "x" |';
    expect(findTestReferences("doc.md", text)).toEqual([
      { document: "doc.md", file: "test/a.test.ts", fragment: "suite" },
      { document: "doc.md", file: "test/a.test.ts", fragment: "first case" },
      { document: "doc.md", file: "test/a.test.ts", fragment: "second" },
      { document: "doc.md", file: "test/a.test.ts", fragment: "case" },
      { document: "doc.md", file: "b.test.ts", fragment: "" },
      { document: "doc.md", file: "c.test.ts", fragment: "x" },
    ]);
  });

  it("matches a title literally or through the placeholders of .each", () => {
    const source = [
      'describe.each([{ server: "a" }])("database outage: $server", () => {',
      '  it.each([["sender"]])("%s exits on its own", () => {});',
      '  it("applies every version once,',
      '    in order", () => {});',
      "});",
    ].join("\n");
    expect(titleIn(source, "database outage: sender-pg")).toBe(true);
    expect(titleIn(source, "sender exits on its own")).toBe(true);
    expect(titleIn(source, "applies every version once, in order")).toBe(true);
    expect(titleIn(source, "applies every version twice")).toBe(false);
  });

  it("name files and titles that exist (fix the doc when a test is renamed)", async () => {
    expect(await brokenTestReferences()).toEqual([]);
  });
});
