import { describe, expect, it } from "vitest";
import { checkConfigTables } from "./config-tables.js";

describe("the configuration tables in docs/", () => {
  it("are the ones the services' zod schemas give (run `npm run docs:config` when this fails)", async () => {
    const checks = await checkConfigTables();
    expect(checks.map((c) => c.name)).toEqual(["service-defaults", "sender", "receiver"]);
    for (const check of checks) {
      expect(
        check.actual,
        `${check.document}: the "${check.name}" table differs from its schema; run \`npm run docs:config\``,
      ).toBe(check.expected);
    }
  });
});
