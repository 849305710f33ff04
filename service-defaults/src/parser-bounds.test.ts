import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ServiceHost } from "./host.js";
import { createLogger } from "./logging.js";
import { integerParameter } from "@outbox/messaging";
import { pageQuerySchema } from "./paging.js";
import { MAX_NESTING_DEPTH, TOO_DEEP_MESSAGE, unstorableTextErrors } from "./unstorable-text.js";

// Hostile shapes against the host's parsers (body, query, path), pinned at the source:
// test/parser-fuzz.test.ts sends the same shapes to every route of the running services.

/** 64 KB of `[[[[…]]]]`: 32,000 levels, what the body limit lets through. */
const DEEP_ARRAY = "[".repeat(32_000) + "]".repeat(32_000);
/** The same as objects: {"a":{"a":…}}. */
const DEEP_OBJECT = '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000);

describe("unstorableTextErrors", () => {
  it("reports a value nested deeper than the limit once, without descending further", () => {
    let value: unknown = "\u0000";
    for (let i = 0; i < 100_000; i++) value = [value];
    const began = performance.now();
    const errors = unstorableTextErrors(value, "body");
    expect(performance.now() - began).toBeLessThan(1_000);
    expect(errors).toEqual([
      { path: Array(MAX_NESTING_DEPTH).fill("0").join("."), location: "body", message: TOO_DEEP_MESSAGE },
    ]);
  });

  it("still finds uncarriable text at any allowed depth, keys included, in document order", () => {
    let value: unknown = { "bad\u0000key": "x", fine: "\ud800" };
    for (let i = 0; i < MAX_NESTING_DEPTH - 1; i++) value = [value];
    const prefix = Array(MAX_NESTING_DEPTH - 1)
      .fill("0")
      .join(".");
    expect(unstorableTextErrors(value, "body").map((e) => e.path)).toEqual([
      `${prefix}.(key)`,
      `${prefix}.fine`,
    ]);
  });

  it("stops after twenty findings", () => {
    expect(unstorableTextErrors(Array(5_000).fill("\u0000"), "body")).toHaveLength(20);
  });
});

describe("the host's parsers under hostile input", () => {
  let host: ServiceHost;
  let url: string;
  beforeAll(async () => {
    host = new ServiceHost({
      name: "bounds",
      version: "1",
      logger: createLogger("bounds", "silent"),
      port: 0,
      handleSignals: false,
    });
    host.route({
      method: "post",
      path: "/items/:id",
      summary: "A body, a path parameter and a query",
      request: {
        params: z.object({ id: integerParameter({ min: 1, max: 1_000 }) }),
        query: pageQuerySchema,
        body: z.strictObject({ name: z.string().max(200) }),
      },
      responses: { 204: { description: "ok" } },
      handler: ({ res }) => void res.status(204).end(),
    });
    url = (await host.start()).url;
  });
  afterAll(async () => {
    await host.stop();
  });

  const cases: Array<[string, string, RequestInit]> = [
    ["64 KB of nested arrays", "/items/1", { method: "POST", body: DEEP_ARRAY }],
    ["nested objects", "/items/1", { method: "POST", body: DEEP_OBJECT }],
    [
      "nested arrays in a field",
      "/items/1",
      { method: "POST", body: `{"name":${"[".repeat(20_000)}${"]".repeat(20_000)}}` },
    ],
    ["a body over the limit", "/items/1", { method: "POST", body: `{"name":"${"x".repeat(70_000)}"}` }],
    ["a page too deep", "/items/1?page=501&pageSize=200", { method: "POST", body: '{"name":"a"}' }],
    ["a huge path parameter", `/items/${"9".repeat(5_000)}`, { method: "POST", body: '{"name":"a"}' }],
    [
      "a repeated query parameter",
      `/items/1?${"page=1&".repeat(2_000)}`,
      { method: "POST", body: '{"name":"a"}' },
    ],
  ];

  it.each(cases)("%s: a 4xx problem, quickly", async (_what, path, init) => {
    const began = performance.now();
    const response = await fetch(`${url}${path}`, {
      ...init,
      headers: { "content-type": "application/json" },
    });
    const took = performance.now() - began;
    expect(
      response.status,
      await response
        .clone()
        .text()
        .then((t) => t.slice(0, 300)),
    ).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    await response.arrayBuffer();
    expect(took).toBeLessThan(2_000);
  });
});
