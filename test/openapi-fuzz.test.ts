import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { repositoryRoot, startTestApp, stopTestApp } from "@outbox/apphost/testing";

// HTTP fuzzing: Schemathesis (an independent, maintained OpenAPI fuzzer) reads each service's
// /openapi.json and runs every check it has, in all four phases (examples, coverage boundaries,
// fuzzing with valid and invalid data, stateful sequences built from the document's inferred
// links), against the running services, admin routes included. Any disagreement between the
// document and the behaviour fails the test with Schemathesis' own report. docs/testing.md.
const SCHEMATHESIS = process.env.SCHEMATHESIS ?? "schemathesis";
const INSTALL = "python3 -m pip install schemathesis==4.32.5";
const CONFIG = path.join(repositoryRoot, "test/fixtures/schemathesis.toml");
// Fixed, so that CI runs the same requests every time; override to explore (the seed is printed).
const SEED = Number(process.env.OPENAPI_FUZZ_SEED ?? 20261129);
const EXAMPLES = Number(process.env.OPENAPI_FUZZ_EXAMPLES ?? 30);

interface Run {
  code: number | null;
  output: string;
}

function run(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(SCHEMATHESIS, args, {
      cwd,
      env: { ...process.env, NO_COLOR: "1", COLUMNS: "120" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", (error: NodeJS.ErrnoException) =>
      error.code === "ENOENT"
        ? reject(new Error(`Schemathesis (${SCHEMATHESIS}) is not installed; install it with: ${INSTALL}`))
        : reject(error),
    );
    child.once("close", (code) => resolve({ code, output }));
  });
}

/** Resolves when Schemathesis 4.x answers; rejects with how to install it. */
async function checkSchemathesis(): Promise<void> {
  const version = await run(["--version"], os.tmpdir());
  if (version.code !== 0) throw new Error(`${SCHEMATHESIS} --version failed:\n${version.output}\n${INSTALL}`);
  if (!/version 4\./.test(version.output))
    throw new Error(`Schemathesis 4.x is needed, found: ${version.output.trim()}; ${INSTALL}`);
}

let app: DistributedApplication | undefined;
let workDir: string | undefined;
let installed: Promise<void>;

beforeAll(async () => {
  // Without the fuzzer each test fails (never skips), and no minute is spent starting the system.
  installed = checkSchemathesis();
  if (!(await installed.then(() => true).catch(() => false))) return;
  // Schemathesis keeps no state here: reports and Hypothesis' example database stay out of the repository.
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), "openapi-fuzz-"));
  app = await startTestApp();
});

afterAll(async () => {
  await stopTestApp(app);
  if (workDir !== undefined) await fs.rm(workDir, { recursive: true, force: true });
});

/** Runs Schemathesis against one service and returns its report. */
async function fuzz(service: "sender" | "receiver"): Promise<string> {
  await installed;
  if (app === undefined || workDir === undefined) throw new Error("the application did not start");
  const base = app.getEndpoint(service);
  const token = app.environmentOf(service)?.ADMIN_TOKEN;
  expect(token, `${service} has an admin token`).toBeTruthy();
  const document = (await (await fetch(`${base}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const operations = Object.values(document.paths).reduce((n, item) => n + Object.keys(item).length, 0);
  const { code, output } = await run(
    [
      "--config-file",
      CONFIG,
      "run",
      `${base}/openapi.json`,
      "--checks",
      "all",
      "--phases",
      "examples,coverage,fuzzing,stateful",
      "--mode",
      "all",
      "--seed",
      String(SEED),
      "--max-examples",
      String(EXAMPLES),
      "--generation-database",
      "none",
      "--request-timeout",
      "30",
      // The admin routes are fuzzed like the others (Schemathesis masks the value in its output).
      "--header",
      `Authorization: Bearer ${token ?? ""}`,
    ],
    workDir,
  );
  const report = `schemathesis against ${service} (seed ${SEED}, ${EXAMPLES} examples per operation):\n${output}`;
  if (code !== 0) throw new Error(report);
  // Every operation of the document was tested, and none only ever saw 401 (the token was accepted).
  expect(output, report).toContain(`Tested: ${operations}`);
  expect(output, report).not.toMatch(/Authentication failed/);
  expect(output, report).toMatch(/\d+ generated, \d+ passed/);
  // The phases' and the summary's lines, for the CI log.
  const summary = output
    .split("\n")
    .filter((line) =>
      /^\s*(✅|❌|⏭|⚠️|Scenarios:|\d+ generated|Seed:)|(passed|failed|skipped)\s*$/u.test(line),
    );
  console.log(`schemathesis against ${service}:\n${summary.join("\n")}`);
  return output;
}

describe("OpenAPI fuzzing (Schemathesis, every check)", () => {
  it("finds no failure in the sender's API", { timeout: 600_000 }, async () => {
    await fuzz("sender");
  });

  it("finds no failure in the receiver's API", { timeout: 600_000 }, async () => {
    await fuzz("receiver");
  });
});
