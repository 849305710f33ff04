import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repositoryRoot } from "@outbox/apphost/testing";
import { isAlive } from "./support/process-alive.js";

const execFileAsync = promisify(execFile);
const cli = path.join(repositoryRoot, "apphost/src/cli.ts");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run apphost -- <args>` as a user types it (without npm's own banner). */
async function apphost(args: string[], timeoutMs = 300_000, env: NodeJS.ProcessEnv = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      ["--conditions=outbox-source", "--import", "tsx", cli, ...args],
      {
        cwd: repositoryRoot,
        timeout: timeoutMs,
        env: { ...process.env, APPHOST_DASHBOARD_PORT: "0", ...env },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

interface State {
  apphostPid: number;
  resources: Array<{ name: string; pid: number | null; state: string; health: string; startedAt?: string }>;
}

let stateDir: string;
let started: Result;
/** The admin token the AppHost generated for a service (settings.json, mode 0600): admin routes need it. */
const adminToken = async (service: string): Promise<string> => {
  const settings = JSON.parse(await fs.readFile(path.join(stateDir, "settings.json"), "utf8")) as Record<
    string,
    { secrets?: Record<string, string> }
  >;
  const token = settings[service]?.secrets?.["admin-token"];
  if (!token) throw new Error(`no admin token for ${service} in settings.json`);
  return token;
};

const readState = async () =>
  JSON.parse(await fs.readFile(path.join(stateDir, "state.json"), "utf8")) as State;

beforeAll(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-verbs-"));
  // The model's log-level parameter, set the way a shell can: Parameters__log_level.
  started = await apphost(["--detach", "--state-dir", stateDir], 300_000, { Parameters__log_level: "debug" });
  if (started.code !== 0)
    throw new Error(`--detach failed (${started.code}):\n${started.stdout}\n${started.stderr}`);
});

afterAll(async () => {
  // Whatever a failed test left running: stop it through its pid, then remove the state directory.
  const state = await readState().catch(() => undefined);
  if (state && isAlive(state.apphostPid)) {
    process.kill(state.apphostPid, "SIGTERM");
    const deadline = Date.now() + 60_000;
    while (isAlive(state.apphostPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (isAlive(state.apphostPid)) process.kill(state.apphostPid, "SIGKILL");
  }
  if (process.env.KEEP_APPHOST_STATE !== "1") await fs.rm(stateDir, { recursive: true, force: true });
});

describe("a detached AppHost and the CLI verbs", () => {
  it("starts quietly: one line per resource as it becomes healthy, then the summary; no initdb, Maven or warnings", async () => {
    expect(started.stdout).toMatch(/dashboard: http:\/\/apphost-\d+-[0-9a-f]{16}\.localhost:\d+\/login\?t=/);
    const console = await fs.readFile(path.join(stateDir, "logs", "apphost-console.log"), "utf8");
    for (const name of ["sender-pg", "senderdb", "receiver-pg", "receiverdb", "broker", "sender", "receiver"])
      expect(console).toMatch(new RegExp(`✓ ${name} +\\S+ +healthy after`));
    expect(console).toContain("all resources running and healthy");
    expect(console).not.toMatch(
      /initdb|The files belonging to this database system|\[mvn\]|Warning|AMQ221007/,
    );
    // ...which are in the resources' own log files.
    expect(await fs.readFile(path.join(stateDir, "logs", "sender-pg.log"), "utf8")).toContain(
      "The files belonging to this database system",
    );
    const control = await fs.stat(path.join(stateDir, "control.json"));
    expect(control.mode & 0o777).toBe(0o600);
  });

  it("status lists every resource with its state and URL", async () => {
    const result = await apphost(["status", "--state-dir", stateDir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/outbox-apphost: running/);
    expect(result.stdout).toMatch(/sender +node-service +Running\/Healthy +http:\/\/127\.0\.0\.1:\d+/);
    expect(result.stdout).toMatch(
      /senderdb +postgres-database +Running\/Healthy +postgresql:\/\/senderdb_app:\*\*\*@/,
    );
  });

  it("logs prints a resource's log, readable, and refuses an unknown resource", async () => {
    const result = await apphost(["logs", "receiver", "-n", "400", "--state-dir", stateDir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO +consumer attached/m);
    const unknown = await apphost(["logs", "nope", "--state-dir", stateDir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No resource named "nope"');
  });

  it("logs -f follows new lines as they are written", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(
      process.execPath,
      [
        "--conditions=outbox-source",
        "--import",
        "tsx",
        cli,
        "logs",
        "sender",
        "-f",
        "-n",
        "0",
        "--state-dir",
        stateDir,
      ],
      {
        cwd: repositoryRoot,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    try {
      // Follow started (the child prints nothing for -n 0); a restart makes the sender log new lines.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const restart = await apphost(["restart", "sender", "--state-dir", stateDir]);
      expect(restart.code).toBe(0);
      const deadline = Date.now() + 30_000;
      while (!output.includes("running and healthy") && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(output).toContain("[apphost] starting");
      expect(output).toContain("running and healthy");
    } finally {
      child.kill("SIGINT");
    }
  });

  it("restart restarts one resource, waits until it is healthy, and leaves the others alone", async () => {
    const before = await readState();
    const byName = (s: State, name: string) => s.resources.find((r) => r.name === name);
    const result = await apphost(["restart", "receiver", "--state-dir", stateDir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("receiver: running and healthy");
    const after = await readState();
    expect(byName(after, "receiver")?.pid).not.toBe(byName(before, "receiver")?.pid);
    expect(byName(after, "receiver")).toMatchObject({ state: "Running", health: "Healthy" });
    for (const other of ["broker", "receiver-pg", "sender-pg"])
      expect(byName(after, other)?.pid).toBe(byName(before, other)?.pid);
    const unknown = await apphost(["restart", "nope", "--state-dir", stateDir]);
    expect(unknown.code).toBe(2);
  });

  it("a parameter from Parameters__<name> reaches the services that reference it", async () => {
    const control = JSON.parse(await fs.readFile(path.join(stateDir, "control.json"), "utf8")) as {
      dashboardUrl: string;
      token: string;
    };
    const resources = (await (
      await fetch(`${control.dashboardUrl}/api/resources`, {
        headers: { authorization: `Bearer ${control.token}` },
      })
    ).json()) as Array<{
      name: string;
      environment?: Record<string, string>;
      parameter?: { value?: string };
    }>;
    expect(resources.find((r) => r.name === "log-level")?.parameter).toEqual({
      secret: false,
      value: "debug",
    });
    for (const service of ["sender", "receiver"])
      expect(resources.find((r) => r.name === service)?.environment?.LOG_LEVEL).toBe("debug");
    const status = await apphost(["status", "--state-dir", stateDir]);
    expect(status.stdout).toMatch(/log-level +parameter +Running\/Healthy/);
  });

  it("custom commands run from the CLI through the services' own admin APIs; a confirmation needs --yes", async () => {
    const state = await readState();
    const sender = (
      state.resources.find((r) => r.name === "sender") as { endpoints?: Record<string, string> }
    ).endpoints?.http;
    const created = await fetch(`${sender}/api/EntityItems`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "purge me" }),
    });
    expect(created.status).toBe(201);
    // Wait until its outbox row is finished (published, then delivered by the receipt).
    const deadline = Date.now() + 60_000;
    let finished = false;
    while (!finished && Date.now() < deadline) {
      const stats = (await (
        await fetch(`${sender}/api/outbox/stats`, {
          headers: { authorization: `Bearer ${await adminToken("sender")}` },
        })
      ).json()) as {
        counts: Record<string, number>;
      };
      finished = (stats.counts.published ?? 0) + (stats.counts.delivered ?? 0) > 0;
      if (!finished) await new Promise((r) => setTimeout(r, 250));
    }
    expect(finished).toBe(true);

    const unconfirmed = await apphost(["command", "sender", "purge-published", "--state-dir", stateDir]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("Run again with --yes");
    const purged = await apphost(["command", "sender", "purge-published", "--yes", "--state-dir", stateDir]);
    expect(purged.code, purged.stderr).toBe(0);
    expect(purged.stdout).toMatch(/Purge published outbox rows: deleted [1-9]\d* rows/);

    const replayed = await apphost([
      "command",
      "receiver",
      "replay-dead-letters",
      "--yes",
      "--state-dir",
      stateDir,
    ]);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout).toContain("Replay dead letters: replayed 0 to receiver, 0 to audit");
    const receipts = await apphost([
      "command",
      "sender",
      "replay-receipt-dead-letters",
      "--yes",
      "--state-dir",
      stateDir,
    ]);
    expect(receipts.code, receipts.stderr).toBe(0);
    expect(receipts.stdout).toContain("Replay receipt dead letters: replayed 0 receipts");
    const unknown = await apphost(["command", "receiver", "nope", "--state-dir", stateDir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("replay-dead-letters (Replay dead letters)");
    // The outcome is in the resource's log (and so on the dashboard's Console page).
    const log = await fs.readFile(path.join(stateDir, "logs", "sender.log"), "utf8");
    expect(log).toMatch(/command "Purge published outbox rows" succeeded: deleted \d+ rows/);
  });

  it("stop ends the detached AppHost and everything it started; status then says so", async () => {
    const state = await readState();
    const result = await apphost(["stop", "--state-dir", stateDir]);
    expect(result.code, result.stderr).toBe(0);
    expect(isAlive(state.apphostPid)).toBe(false);
    for (const r of state.resources) if (r.pid) expect(isAlive(r.pid), r.name).toBe(false);
    const status = await apphost(["status", "--state-dir", stateDir]);
    expect(status.code).toBe(3);
    expect(status.stdout).toContain("not running");
    const again = await apphost(["stop", "--state-dir", stateDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("No AppHost is running");
  });
});
