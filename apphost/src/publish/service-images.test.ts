import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { transpiledExports } from "./service-images.js";

const repositoryRoot = path.resolve(import.meta.dirname, "../../..");
const exportsOf = async (pkg: string): Promise<unknown> =>
  (
    JSON.parse(await fs.readFile(path.join(repositoryRoot, pkg, "package.json"), "utf8")) as {
      exports: unknown;
    }
  ).exports;

describe("transpiledExports: a workspace package's exports inside a service image (sources as .js, no dist/)", () => {
  it("points @outbox/messaging's conditional entry at its transpiled source, not at dist/", async () => {
    // Precondition: the workspace manifest has the conditional form (outbox-source → src, default → dist).
    expect(await exportsOf("messaging")).toMatchObject({
      ".": { "outbox-source": "./src/index.ts", default: "./dist/index.js" },
    });
    expect(transpiledExports(await exportsOf("messaging"), "messaging")).toEqual({ ".": "./src/index.js" });
  });

  it("rewrites plain entries .ts → .js and keeps ./package.json as it is", () => {
    expect(
      transpiledExports(
        {
          ".": "./src/index.ts",
          "./instrument": "./src/instrument.ts",
          "./package.json": "./package.json",
        },
        "service-defaults",
      ),
    ).toEqual({
      ".": "./src/index.js",
      "./instrument": "./src/instrument.js",
      "./package.json": "./package.json",
    });
    expect(transpiledExports("./src/main.ts", "x")).toBe("./src/main.js");
    expect(transpiledExports(undefined, "x")).toBeUndefined();
  });

  it("refuses an entry it cannot map to a transpiled source, naming the package and entry", () => {
    expect(() => transpiledExports({ ".": { default: "./dist/index.js" } }, "messaging")).toThrow(
      /messaging\/package\.json exports "\.": expected "\.\/src\/….ts", got undefined/,
    );
    expect(() => transpiledExports(["./src/a.ts"], "x")).toThrow(/exports must be a string or an object/);
  });
});
