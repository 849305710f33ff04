import { describe, expect, it } from "vitest";
import { requestHash } from "./idempotent-create.js";

describe("requestHash", () => {
  it("is the same for the same request whatever the key order or an omitted null", () => {
    expect(requestHash({ name: "a", description: null })).toBe(requestHash({ name: "a" }));
    expect(requestHash({ description: "d", name: "a" })).toBe(requestHash({ name: "a", description: "d" }));
  });

  it("differs when the request differs", () => {
    expect(requestHash({ name: "a" })).not.toBe(requestHash({ name: "b" }));
    expect(requestHash({ name: "a", description: "" })).not.toBe(requestHash({ name: "a" }));
  });
});
