import { describe, expect, it } from "vitest";
import { derivedClusterId, newClusterId } from "./node-config.js";

describe("Kafka cluster ids", () => {
  it("are 22 URL-safe base64 characters", () => {
    expect(newClusterId()).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(derivedClusterId("outbox-apphost\0app\0broker")).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('never start with "-", which the storage tool reads as an option', () => {
    // 0xf8 encodes to "-" first in base64url: the first draw is refused, the second kept.
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x01)];
    const id = newClusterId(() => draws.shift() ?? Buffer.alloc(16));
    expect(Buffer.alloc(16, 0xf8).toString("base64url").startsWith("-")).toBe(true);
    expect(id).toBe(Buffer.alloc(16, 0x01).toString("base64url"));
    for (let i = 0; i < 500; i++) expect(derivedClusterId(`model-${i}\0broker`).startsWith("-")).toBe(false);
  });

  it("derive the same id from the same seed", () => {
    expect(derivedClusterId("a")).toBe(derivedClusterId("a"));
    expect(derivedClusterId("a")).not.toBe(derivedClusterId("b"));
  });
});
