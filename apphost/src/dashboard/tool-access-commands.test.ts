import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CommandResult } from "../model/commands.js";
import { CommandError } from "../runtime/commands.js";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import { LogSink } from "../runtime/log-sink.js";
import { fetchLocalhost } from "./localhost-fetch.js";
import { DashboardServer } from "./dashboard-server.js";

const secrets = { loginToken: "t".repeat(48), otlpApiKey: "k".repeat(48), toolToken: "b".repeat(48) };
const SECRET = "s3cr3tValue0123456789";
let dir: string;
let dashboard: DashboardServer;
let logs: LogSink;
let ran: string[];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "dashboard-tools-"));
  ran = [];
  dashboard = new DashboardServer({ port: 0, secrets });
  await dashboard.listen();
  logs = new LogSink({ directory: dir, console: false });
  const resource: ResourceSnapshot = {
    name: "sender",
    kind: "node-service",
    state: "Running",
    health: "Healthy",
    pid: 1,
    endpoints: {},
    logFile: path.join(dir, "sender.log"),
    dependsOn: ["api-key"],
    commands: [{ name: "purge", label: "Purge", confirm: "Sure?" }],
  };
  dashboard.attach({
    logs,
    snapshot: () => [resource],
    startResource: () => Promise.resolve(),
    stopResource: () => Promise.resolve(),
    restartResource: () => Promise.resolve(),
    environmentOf: () => ({ Parameters__api_key: SECRET, FORWARDED_HEADER: `Bearer ${SECRET}`, PORT: "1" }),
    secretValues: () => [SECRET],
    runCommand: (name: string, command: string): Promise<CommandResult> => {
      ran.push(`${name} ${command}`);
      if (command === "purge") return Promise.resolve({ message: "deleted 3 rows" });
      return Promise.reject(new CommandError(`no command ${command}`, 404));
    },
  });
});

afterEach(async () => {
  await dashboard.close();
  await logs.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const bearer = { authorization: `Bearer ${secrets.toolToken}` };

describe("tools (CLI, MCP) and custom commands on the dashboard API", () => {
  it("accepts the tool token as a bearer token, and nothing else without a session", async () => {
    expect((await fetch(`${dashboard.url}/api/resources`, { headers: bearer })).status).toBe(200);
    // 127.0.0.1 serves tools only: without the token the request is misdirected (421), on the
    // browser name it needs a session (401).
    expect((await fetch(`${dashboard.url}/api/resources`)).status).toBe(421);
    const wrong = await fetch(`${dashboard.url}/api/resources`, {
      headers: { authorization: "Bearer nope" },
    });
    expect(wrong.status).toBe(421);
    const wrongOnBrowserName = await fetchLocalhost(`${dashboard.browserUrl}/api/resources`, {
      headers: { authorization: "Bearer nope" },
    });
    expect(wrongOnBrowserName.status).toBe(401);
    // A POST with the bearer token needs no Origin (browsers never send this header by themselves).
    const post = await fetch(`${dashboard.url}/api/resources/sender/restart`, {
      method: "POST",
      headers: bearer,
    });
    expect(post.status).toBe(202);
  });

  it("runs a command and reports its result; an unknown command is a 404", async () => {
    const ok = await fetch(`${dashboard.url}/api/resources/sender/commands/purge`, {
      method: "POST",
      headers: bearer,
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true, message: "deleted 3 rows" });
    const unknown = await fetch(`${dashboard.url}/api/resources/sender/commands/nope`, {
      method: "POST",
      headers: bearer,
    });
    expect(unknown.status).toBe(404);
    expect(ran).toEqual(["sender purge", "sender nope"]);
    const listed = (await (
      await fetch(`${dashboard.url}/api/resources`, { headers: bearer })
    ).json()) as ResourceSnapshot[];
    expect(listed[0]?.commands).toEqual([{ name: "purge", label: "Purge", confirm: "Sure?" }]);
  });

  it("masks secret parameter values in the environment and in console lines", async () => {
    const [view] = (await (
      await fetch(`${dashboard.url}/api/resources`, { headers: bearer })
    ).json()) as Array<{
      environment: Record<string, string>;
    }>;
    expect(JSON.stringify(view)).not.toContain(SECRET);
    expect(view?.environment.FORWARDED_HEADER).toBe("Bearer ***");
    logs.write("sender", "stdout", `using key ${SECRET}`);
    const lines = (await (
      await fetch(`${dashboard.url}/api/console?resource=sender`, { headers: bearer })
    ).json()) as Array<{
      text: string;
    }>;
    expect(lines.map((l) => l.text)).toContain("using key ***");
  });
});
