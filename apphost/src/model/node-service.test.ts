import { describe, expect, it } from "vitest";
import { NodeServiceResource } from "./node-service.js";

describe("withMigrations", () => {
  it("defaults to src/migrate-main.ts and keeps a path inside the service's folder", () => {
    expect(new NodeServiceResource("a", "a-service").migrationsEntryPoint).toBeUndefined();
    expect(new NodeServiceResource("a", "a-service").withMigrations().migrationsEntryPoint).toBe(
      "src/migrate-main.ts",
    );
    expect(new NodeServiceResource("a", "a").withMigrations("db/up.ts").migrationsEntryPoint).toBe(
      "db/up.ts",
    );
  });

  it("refuses a path that leaves the folder or is empty", () => {
    for (const bad of ["", " ", "/etc/x.ts", "../other/migrate.ts", "src/../../x.ts", "src\\..\\x.ts"])
      expect(() => new NodeServiceResource("a", "a").withMigrations(bad), bad).toThrow(
        /must be a path inside its folder/,
      );
  });
});
