import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import type { ReplicaSnapshot } from "../runtime/replica-set.js";
import { CliError, type StateFile } from "./state-files.js";
import { logsVerb, statusVerb } from "./verbs.js";

// The verbs read state.json and the log files: a state directory written here stands in for an
// AppHost that runs (its pid is this process) with a replicated service.
let stateDir: string;

function replica(name: string, index: number, pid: number, port: number): ReplicaSnapshot {
  return {
    name,
    index,
    state: "Running",
    health: "Healthy",
    pid,
    endpoints: { http: `http://127.0.0.1:${port}` },
  };
}

function resource(name: string, kind: ResourceSnapshot["kind"], extra: Partial<ResourceSnapshot> = {}) {
  return {
    name,
    kind,
    state: "Running",
    health: "Healthy",
    pid: null,
    endpoints: {},
    logFile: `logs/${name}.log`,
    dependsOn: [],
    ...extra,
  } satisfies ResourceSnapshot;
}

beforeEach(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "verbs-test-"));
  const state: StateFile = {
    app: "outbox-apphost",
    mode: "process",
    apphostPid: process.pid,
    updatedAt: new Date().toISOString(),
    resources: [
      resource("broker", "artemis", { connectionString: "amqp://127.0.0.1:5672" }),
      resource("sender", "node-service", {
        pid: 101,
        endpoints: { http: "http://127.0.0.1:5001" },
        replicas: [replica("sender-0", 0, 101, 5001), replica("sender-1", 1, 102, 5002)],
      }),
    ],
  };
  await fs.writeFile(path.join(stateDir, "state.json"), JSON.stringify(state));
  await fs.mkdir(path.join(stateDir, "logs"));
  await fs.writeFile(
    path.join(stateDir, "logs", "sender-1.log"),
    `${JSON.stringify({ level: 30, time: Date.now(), msg: "sender-1 listening" })}\n`,
  );
});

afterEach(async () => {
  await fs.rm(stateDir, { recursive: true, force: true });
});

describe("status", () => {
  it("lists each replica of a replicated service under it, with its pid, state and URL", async () => {
    const lines: string[] = [];
    expect(await statusVerb(stateDir, (text) => lines.push(text))).toBe(0);
    const output = lines.join("\n");
    expect(output).toMatch(/^ {2}sender +node-service ×2 +Running\/Healthy +http:\/\/127\.0\.0\.1:5001$/m);
    expect(output).toMatch(/^ {4}sender-0 +pid 101 +Running\/Healthy +http:\/\/127\.0\.0\.1:5001$/m);
    expect(output).toMatch(/^ {4}sender-1 +pid 102 +Running\/Healthy +http:\/\/127\.0\.0\.1:5002$/m);
    // Replica lines follow their service, in order.
    expect(lines.findIndex((l) => l.includes("sender-1"))).toBe(
      lines.findIndex((l) => l.includes("sender-0")) + 1,
    );
  });
});

describe("logs", () => {
  it("prints a replica's own log, and names the replicas when the resource is unknown", async () => {
    const lines: string[] = [];
    expect(
      await logsVerb(stateDir, "sender-1", { follow: false, tail: 10 }, (text) => lines.push(text)),
    ).toBe(0);
    expect(lines.join("\n")).toContain("sender-1 listening");

    const refused = logsVerb(stateDir, "sender-7", { follow: false, tail: 10 }, () => undefined);
    await expect(refused).rejects.toBeInstanceOf(CliError);
    await expect(refused).rejects.toThrow(
      /No resource named "sender-7" \(have: broker, sender, sender-0, sender-1\)/,
    );
  });

  it("prints no terminal control sequence, raw or JSON-escaped, and masks the generated credentials", async () => {
    const secret = "Gen3ratedPassw0rdValue";
    await fs.writeFile(
      path.join(stateDir, "settings.json"),
      JSON.stringify({ "sender-pg": { secrets: { password: secret } } }),
    );
    const time = "2026-12-07T10:00:00.000Z";
    await fs.writeFile(
      path.join(stateDir, "logs", "sender.log"),
      [
        `${time} stdout plain \x1b]0;new title\x07text \x1b[2J\x1b[31mred\x1b[0m`,
        `${time} stdout ${JSON.stringify({ level: "info", msg: "escaped \u001b]52;c;Y2xpcA==\u0007 clipboard" })}`,
        `${time} stdout postgresql://postgres:${secret}@127.0.0.1:5432/postgres`,
        `not a LogSink line \x1b[5mblink`,
        "",
      ].join("\n"),
    );
    const lines: string[] = [];
    await logsVerb(stateDir, "sender", { follow: false, tail: 10 }, (text) => lines.push(text));
    const output = lines.join("\n");
    // Precondition: the file holds the sequences, raw and escaped, and the secret.
    const file = await fs.readFile(path.join(stateDir, "logs", "sender.log"), "utf8");
    expect(file).toContain("\x1b]0;");
    expect(file).toContain("\\u001b]52;");
    expect(file).toContain(secret);
    // eslint-disable-next-line no-control-regex
    expect(output).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/);
    // The title and clipboard strings go with their sequences; the visible text stays.
    expect(output).toContain("plain text red");
    expect(output).toMatch(/escaped +clipboard/);
    expect(output).not.toContain("Y2xpcA==");
    expect(output).toContain("blink");
    expect(output).toContain("postgresql://postgres:***@127.0.0.1:5432/postgres");
    expect(output).not.toContain(secret);
  });
});
