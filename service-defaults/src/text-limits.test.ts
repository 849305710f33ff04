import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ENTITY_ITEM_DESCRIPTION,
  ENTITY_ITEM_NAME,
  carriedTextSchema,
  isCarriableText,
  limitedTextField,
  type TextLimit,
} from "./text-limits.js";

const EMOJI = "😀"; // one code point, two UTF-16 units
const E_ACUTE = "e\u0301"; // two code points: a letter and a combining acute accent
const HEBREW = "שלום"; // four code points, right-to-left

describe("isCarriableText", () => {
  it("refuses U+0000 and unpaired surrogates, accepts paired ones", () => {
    expect(isCarriableText(`a${EMOJI}b`)).toBe(true);
    expect(isCarriableText("a\u0000b")).toBe(false);
    expect(isCarriableText("a\ud83d")).toBe(false); // high surrogate at the end
    expect(isCarriableText("\ude00a")).toBe(false); // low surrogate at the start
    expect(isCarriableText("\ude00\ud83d")).toBe(false); // the pair in the wrong order
    expect(isCarriableText(`${HEBREW}${E_ACUTE}\u200f`)).toBe(true);
  });
});

describe.each([
  ["name", ENTITY_ITEM_NAME],
  ["description", ENTITY_ITEM_DESCRIPTION],
] as const)("the %s limit", (_field, limit: TextLimit) => {
  const request = limitedTextField(limit);
  const event = carriedTextSchema(limit);
  const max = limit.maxLength;

  it.each([
    ["astral characters (emoji)", EMOJI],
    ["combining marks (counted one code point each)", E_ACUTE],
    ["right-to-left text", HEBREW],
  ])("accepts exactly the limit in %s, refuses one code point more", (_name, unit) => {
    const atLimit = unit.repeat(max / [...unit].length);
    expect([...atLimit].length).toBe(max);
    expect(request.parse(atLimit)).toBe(atLimit);
    expect(event.parse(atLimit)).toBe(atLimit);
    const beyond = `${atLimit}a`;
    expect(request.safeParse(beyond).success).toBe(false);
    expect(event.safeParse(beyond).success).toBe(false);
  });

  it("counts code points, not UTF-16 units (the receiver once counted units and refused what the sender took)", () => {
    const emoji = EMOJI.repeat(max);
    expect(emoji.length).toBe(2 * max);
    expect(z.string().max(max).safeParse(emoji).success).toBe(false);
    expect(event.safeParse(emoji).success).toBe(true);
  });

  it("agrees with the request field on every sample: the event schema accepts what the host lets through, unchanged", () => {
    const samples = [
      "",
      " ",
      " padded ",
      "\u00a0x\u3000",
      "a\u0000b",
      "a\ud83d",
      `${EMOJI.repeat(max - 1)} `,
      ` ${EMOJI.repeat(max)}`,
      `${HEBREW} ${E_ACUTE} ${EMOJI}`,
      "x".repeat(max),
      "x".repeat(max + 1),
    ];
    for (const sample of samples) {
      const viaRequest = request.safeParse(sample);
      const accepted = viaRequest.success && isCarriableText(sample);
      const viaEvent = event.safeParse(sample);
      expect(viaEvent.success, JSON.stringify(sample)).toBe(accepted);
      if (viaRequest.success && viaEvent.success) {
        // What the sender stores and sends is what the receiver parses, and parsing it again
        // (the receiver's schema on the sender's output) changes nothing.
        expect(viaEvent.data).toBe(viaRequest.data);
        expect(event.parse(viaRequest.data)).toBe(viaRequest.data);
      }
    }
  });

  it("says its unit in the API document", () => {
    const documented = z.toJSONSchema(limitedTextField(limit, "The thing")) as {
      maxLength?: number;
      description?: string;
    };
    expect(documented.maxLength).toBe(max);
    expect(documented.description).toMatch(/^The thing\. .*Unicode code points/);
  });
});

describe("nonBlank limits", () => {
  it("refuse blank names in both schemas and pass them on trimmed", () => {
    for (const schema of [limitedTextField(ENTITY_ITEM_NAME), carriedTextSchema(ENTITY_ITEM_NAME)]) {
      expect(schema.safeParse(" \t").success).toBe(false);
      expect(schema.parse(` ${HEBREW} `)).toBe(HEBREW);
    }
    expect(carriedTextSchema(ENTITY_ITEM_DESCRIPTION).parse(" kept ")).toBe(" kept ");
  });
});
