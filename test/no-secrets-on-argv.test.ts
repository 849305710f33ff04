import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp, testMode } from "@outbox/apphost/testing";
import { isSecretName } from "../apphost/src/dashboard/mask.js";
import { linesWithSecrets, watchCommandLines } from "./support/command-lines.js";
import { GROUP_QUEUES, groupQueueStats } from "./support/system.js";

// Every secret the AppHost generated (database superuser, owner and runtime passwords, broker
// admin and client passwords, the services' admin tokens) stays off every command line of every
// process while the system starts and runs, in the mode this project runs (process or container:
// the host's /proc lists the containers' processes too), and out of state.json and the log files.

let app: DistributedApplication | undefined;
let commands: string[] = [];
let secrets: Map<string, string>;
let queues: string[] = [];

/** `<resource>/<key>` → value, for every secret in the AppHost's 0600 settings file. */
async function generatedSecrets(stateDir: string): Promise<Map<string, string>> {
  const settings = JSON.parse(await fs.readFile(path.join(stateDir, "settings.json"), "utf8")) as Record<
    string,
    { secrets?: Record<string, string> }
  >;
  const found = new Map<string, string>();
  for (const [resource, entry] of Object.entries(settings))
    for (const [key, value] of Object.entries(entry.secrets ?? {})) found.set(`${resource}/${key}`, value);
  return found;
}

beforeAll(async () => {
  const watch = watchCommandLines();
  try {
    app = await startTestApp();
    // The test harness's own broker query (Artemis' CLI with the admin login) runs in the window too.
    queues = (await groupQueueStats(app)).map((q) => q.queue);
  } finally {
    commands = await watch.stop();
  }
  secrets = await generatedSecrets(app.stateDir);
  // And what the services were given (settings.json may lag behind a concurrent save).
  for (const service of ["sender", "receiver"])
    for (const [name, value] of Object.entries(app.environmentOf(service) ?? {}))
      if (name === "ADMIN_TOKEN") secrets.set(`${service}/admin-token`, value);
      else if (isSecretName(name)) secrets.set(`${service}/env:${name}`, value);
});

afterAll(async () => {
  await stopTestApp(app);
});

describe(`no secret on a command line (${testMode()} mode)`, () => {
  it("knows every kind of generated secret", () => {
    const keys = [...secrets.keys()];
    for (const expected of [
      "sender-pg/password",
      "senderdb/owner-password",
      "senderdb/app-password",
      "broker/password",
      "broker/sender-password",
      "broker/receiver-password",
      "sender/admin-token",
      "receiver/admin-token",
    ])
      expect(keys).toContain(expected);
  });

  it("saw the short-lived steps where secrets used to be passed: `artemis create`, `artemis queue stat`", () => {
    // Precondition: the sampling does catch the processes that matter.
    expect(commands.some((c) => /\bArtemis create\b/.test(c))).toBe(true);
    expect([...queues].sort()).toEqual([...GROUP_QUEUES].sort());
    expect(commands.some((c) => /\bArtemis queue stat\b/.test(c))).toBe(true);
    if (testMode() === "container") expect(commands.some((c) => c.includes("pg_isready"))).toBe(true);
    else expect(commands.some((c) => /\bpostgres\b.*-D /.test(c) || c.startsWith("postgres:"))).toBe(true);
  });

  it("finds none of them in any process's argv", () => {
    expect(linesWithSecrets(commands, [...secrets.values()])).toEqual([]);
  });
});

describe(`no secret in state.json or the log files (${testMode()} mode)`, () => {
  it("state.json holds connection strings with the password masked", async () => {
    const text = await fs.readFile(app?.stateFile ?? "", "utf8");
    expect(text).toMatch(
      /"connectionString": "postgresql:\/\/senderdb_app:\*\*\*@127\.0\.0\.1:\d+\/senderdb"/,
    );
    for (const [name, value] of secrets) expect(text.includes(value), name).toBe(false);
  });

  it("the log files hold none of them", async () => {
    const dir = path.join(app?.stateDir ?? "", "logs");
    for (const file of await fs.readdir(dir)) {
      const text = await fs.readFile(path.join(dir, file), "utf8");
      for (const [name, value] of secrets) expect(text.includes(value), `${name} in ${file}`).toBe(false);
    }
  });
});
