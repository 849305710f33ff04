import { describe, expect, it } from "vitest";
import { imageReference } from "../../model/image.js";
import { chooseImage, imageVariable, OFFICIAL_IMAGES } from "./images.js";

describe("chooseImage", () => {
  const base = { resource: "sender-pg", kind: "postgres" as const, fallback: OFFICIAL_IMAGES.postgres };

  it("uses the official image by default and the model's withImage over it", () => {
    expect(chooseImage(base, {})).toEqual({ image: "postgres:15", source: "default" });
    expect(chooseImage({ ...base, model: "postgres:16" }, {})).toEqual({
      image: "postgres:16",
      source: "withImage()",
    });
  });

  it("lets the environment override per kind, and per resource over that", () => {
    const env = { APPHOST_IMAGE_POSTGRES: "local/pg:15", APPHOST_IMAGE_SENDER_PG: "mine/pg:1" };
    expect(chooseImage({ ...base, model: "postgres:16" }, { APPHOST_IMAGE_POSTGRES: "local/pg:15" })).toEqual(
      { image: "local/pg:15", source: "APPHOST_IMAGE_POSTGRES" },
    );
    expect(chooseImage(base, env)).toEqual({ image: "mine/pg:1", source: "APPHOST_IMAGE_SENDER_PG" });
    expect(chooseImage({ ...base, resource: "receiver-pg" }, env).image).toBe("local/pg:15");
  });

  it("names variables after the resource like injected variables are", () => {
    expect(imageVariable("receiver-pg")).toBe("APPHOST_IMAGE_RECEIVER_PG");
  });

  it("validates image references", () => {
    expect(imageReference("postgres", "15")).toBe("postgres:15");
    expect(imageReference("ghcr.io/org/img@sha256:abc")).toBe("ghcr.io/org/img@sha256:abc");
    expect(() => imageReference("bad image")).toThrow(/Invalid image reference/);
  });
});
