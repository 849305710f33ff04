import { describe, expect, it } from "vitest";
import { OpenAPIRegistry, OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { AllowedMethods } from "./allowed-methods.js";
import { integerParameter } from "@outbox/messaging";
import { pageQuerySchema, MAX_PAGE } from "./paging.js";
import { NON_BLANK_TEXT_PATTERN, STORABLE_TEXT_PATTERN, textField } from "./text-fields.js";

// What the OpenAPI fuzzer (test/openapi-fuzz.test.ts) found where the document and the
// validation disagreed, pinned here at the source.

function documentedParameters(request: { params?: z.ZodObject; query?: z.ZodObject }) {
  const registry = new OpenAPIRegistry();
  registry.registerPath({
    method: "get",
    path: "/x/{id}",
    request,
    responses: { 200: { description: "ok" } },
  });
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: { title: "t", version: "1" },
  });
  return document.paths?.["/x/{id}"]?.get?.parameters as unknown as Array<{
    name: string;
    required: boolean;
    schema: Record<string, unknown>;
  }>;
}

describe("integerParameter", () => {
  const query = z.object({ n: integerParameter({ min: 0, max: 100, default: 5 }) });

  it("accepts plain whole numbers within the bounds and applies the default", () => {
    expect(query.parse({})).toEqual({ n: 5 });
    expect(query.parse({ n: "0" })).toEqual({ n: 0 });
    expect(query.parse({ n: "100" })).toEqual({ n: 100 });
  });

  it("refuses what z.coerce.number() let through: empty, hex, exponent, spaces, repeats", () => {
    for (const n of ["", "0x10", "1e1", " 7", "7 ", "1.0", "101", "-1", "null", ["1", "2"]])
      expect(query.safeParse({ n }).success, JSON.stringify(n)).toBe(false);
  });

  it("is documented as an integer with its bounds: never nullable, a path parameter required", () => {
    const [id, n] = documentedParameters({
      params: z.object({ id: integerParameter({ min: 0, max: 9 }) }),
      query,
    });
    expect(id).toMatchObject({
      name: "id",
      required: true,
      schema: { type: "integer", minimum: 0, maximum: 9 },
    });
    expect(n).toMatchObject({
      name: "n",
      required: false,
      schema: { type: "integer", minimum: 0, maximum: 100, default: 5 },
    });
  });

  it("bounds the page number (a page beyond 2^53 was refused without being documented)", () => {
    const [page] = documentedParameters({ query: pageQuerySchema });
    expect(page?.schema).toMatchObject({ type: "integer", minimum: 1, maximum: MAX_PAGE });
    expect(pageQuerySchema.safeParse({ page: String(MAX_PAGE + 1) }).success).toBe(false);
  });
});

describe("textField", () => {
  const name = textField({ maxLength: 5, nonBlank: true });
  const text = textField({ maxLength: 5 });

  it("counts code points, as JSON Schema's maxLength does (five emoji are ten UTF-16 units)", () => {
    expect(text.safeParse("😀😀😀😀😀").success).toBe(true);
    expect(text.safeParse("😀😀😀😀😀😀").success).toBe(false);
  });

  it("measures before trimming, then trims; refuses text that trims to nothing", () => {
    expect(name.parse(" ab ")).toBe("ab");
    expect(name.safeParse("abcd ").success).toBe(true);
    expect(name.safeParse("abcde ").success).toBe(false);
    for (const blank of ["", " ", "\t\n", "\u00a0\u3000", "\ufeff"])
      expect(name.safeParse(blank).success, JSON.stringify(blank)).toBe(false);
  });

  it("documents a pattern that agrees with the validation", () => {
    const nonBlank = new RegExp(NON_BLANK_TEXT_PATTERN);
    const storable = new RegExp(STORABLE_TEXT_PATTERN);
    for (const sample of ["a", " a ", " ", "\u2028", "\ufeff", "\u001c", "x\u00a0", "😀", "\t"]) {
      expect(nonBlank.test(sample), JSON.stringify(sample)).toBe(name.safeParse(sample).success);
      expect(storable.test(sample)).toBe(true);
    }
    expect(storable.test("a\u0000b")).toBe(false);
    expect(nonBlank.test("a\u0000")).toBe(false);
  });
});

describe("AllowedMethods", () => {
  it("lets the most specific path decide: a literal segment wins over a parameter", () => {
    const methods = new AllowedMethods();
    methods.add("/api/DeadLetters/:id", "delete");
    methods.add("/api/DeadLetters/count", "get");
    methods.add("/api/DeadLetters/replay", "post");
    methods.add("/api/DeadLetters/:id", "get");
    expect(methods.allowed("/api/DeadLetters/count")).toEqual(["GET", "HEAD"]);
    expect(methods.allowed("/api/DeadLetters/replay")).toEqual(["POST"]);
    expect(methods.allowed("/api/DeadLetters/17")).toEqual(["DELETE", "GET", "HEAD"]);
    expect(methods.allowed("/api/deadletters/17/")).toEqual(["DELETE", "GET", "HEAD"]);
    expect(methods.allowed("/api/Other")).toBeUndefined();
  });
});
