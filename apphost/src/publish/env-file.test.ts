import { describe, expect, it } from "vitest";
import { mergeEnvFile, parseEnvFile } from "./env-file.js";

const GENERATED = [
  "# Settings",
  "APPHOST_BIND_ADDRESS=127.0.0.1",
  "WEB_HTTP_PORT=8080",
  "# APPHOST_IMAGE_WEB=shop/web:src-1",
  "# Secrets",
  "SECRET_PG_PASSWORD=generated1",
  "",
].join("\n");

describe("re-publishing over an edited env file", () => {
  it("is the generated file when there was none", () => {
    expect(mergeEnvFile(undefined, GENERATED)).toEqual({ text: GENERATED, kept: [] });
  });

  it("keeps the user's values in place, uncommented defaults included, and new keys as generated", () => {
    const previous = [
      "APPHOST_BIND_ADDRESS=0.0.0.0",
      "# my note",
      "APPHOST_IMAGE_WEB=registry.example/web:7",
      "SECRET_PG_PASSWORD=chosenByMe",
    ].join("\n");
    const { text, kept } = mergeEnvFile(previous, GENERATED);
    expect(text).toBe(
      [
        "# Settings",
        "APPHOST_BIND_ADDRESS=0.0.0.0",
        // New in this model: as generated.
        "WEB_HTTP_PORT=8080",
        "APPHOST_IMAGE_WEB=registry.example/web:7",
        "# Secrets",
        "SECRET_PG_PASSWORD=chosenByMe",
        "",
      ].join("\n"),
    );
    expect(kept).toEqual([]);
  });

  it("keeps keys the model no longer writes at the end, and reports them", () => {
    const previous = "OLD_HTTP_PORT=8081\nMY_OWN=x=y\nWEB_HTTP_PORT=9000\n";
    const { text, kept } = mergeEnvFile(previous, GENERATED);
    expect(kept).toEqual(["OLD_HTTP_PORT", "MY_OWN"]);
    expect(text).toContain("WEB_HTTP_PORT=9000\n");
    expect(text.endsWith("# Remove the ones nothing uses.\nOLD_HTTP_PORT=8081\nMY_OWN=x=y\n")).toBe(true);
    // Each key once: Compose reads the last one.
    expect(parseEnvFile(text).get("WEB_HTTP_PORT")).toBe("9000");
    expect(text.match(/^WEB_HTTP_PORT=/gm)).toHaveLength(1);
  });

  it("writes a value the user emptied anew", () => {
    const { text, kept } = mergeEnvFile("SECRET_PG_PASSWORD=\n", GENERATED);
    expect(parseEnvFile(text).get("SECRET_PG_PASSWORD")).toBe("generated1");
    expect(kept).toEqual([]);
  });
});
