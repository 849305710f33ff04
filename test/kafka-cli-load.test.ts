import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { repositoryRoot } from "../apphost/src/testing.js";

// The CLI loads the Kafka providers with plain Node and tsx, not through vitest's module
// interop: kafkajs is CommonJS, and a named import of it that vitest accepts fails there.

describe("Kafka modules under the CLI's loader", () => {
  it("load with plain Node and tsx", async () => {
    const modules = [
      "apphost/src/providers/process/kafka-process.ts",
      "apphost/src/providers/container/kafka-container.ts",
    ];
    const script = modules
      .map((m) => `await import(${JSON.stringify(path.join(repositoryRoot, m))});`)
      .join("\n");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        "--conditions=outbox-source",
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `${script}\nconsole.log("loaded");`,
      ],
      { cwd: repositoryRoot },
    );
    expect(stdout.trim()).toBe("loaded");
  });
});
