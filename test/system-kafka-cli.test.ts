import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { repositoryRoot } from "@outbox/apphost/testing";
import { buildApp, transportFromEnv } from "../apphost.js";

// `npm run apphost -- --transport <name>`: the CLI hands the name to the model file through
// APPHOST_TRANSPORT, and this repository's model builds the broker it names.

/** Runs the CLI to its end (a bad transport stops it before anything starts). */
function runCli(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    ["--conditions=outbox-source", "--import", "tsx", "apphost/src/cli.ts", "--no-color", ...args],
    {
      cwd: repositoryRoot,
      env: { ...process.env, APPHOST_TRANSPORT: "" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, output })));
}

describe("--transport", () => {
  it("refuses an unknown transport with one line naming the allowed ones, before anything starts", async () => {
    const { code, output } = await runCli([
      "--transport",
      "nats",
      "--state-dir",
      "/nonexistent/never-created",
    ]);
    expect(code).toBe(2);
    expect(output).toContain('--transport (APPHOST_TRANSPORT) must be artemis or kafka, got "nats"');
    expect(output).not.toMatch(/\n\s+at /);
  });

  it("builds Artemis by default and Kafka when asked, with the same services", () => {
    expect(transportFromEnv({})).toBe("artemis");
    expect(transportFromEnv({ APPHOST_TRANSPORT: "kafka" })).toBe("kafka");
    const kinds = (transport: "artemis" | "kafka") =>
      buildApp({ transport })
        .resources()
        .map((r) => `${r.name}:${r.kind}`)
        .sort();
    expect(kinds("artemis")).toContain("broker:artemis");
    expect(kinds("kafka")).toContain("broker:kafka");
    expect(kinds("kafka").filter((k) => !k.startsWith("broker:"))).toEqual(
      kinds("artemis").filter((k) => !k.startsWith("broker:")),
    );
  });
});
