import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { isMonitorPoll, MONITOR_HEADER } from "./admin-auth.js";
import { ServiceHost } from "./host.js";

// The AppHost dashboard's polls stay out of traces and info logs; any other client must not be
// able to do the same by sending the header.
const TOKEN = "m".repeat(32);
const hosts: ServiceHost[] = [];
const servers: http.Server[] = [];

afterEach(async () => {
  for (const host of hosts.splice(0)) await host.stop();
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

describe("isMonitorPoll", () => {
  it("needs the header and the service's admin token", () => {
    const req = (headers: Record<string, string>) => ({ headers });
    expect(isMonitorPoll(req({ [MONITOR_HEADER]: "1", authorization: `Bearer ${TOKEN}` }), [TOKEN])).toBe(
      true,
    );
    expect(isMonitorPoll(req({ [MONITOR_HEADER]: "1" }), [TOKEN])).toBe(false);
    expect(isMonitorPoll(req({ [MONITOR_HEADER]: "1", authorization: "Bearer wrong" }), [TOKEN])).toBe(false);
    expect(isMonitorPoll(req({ authorization: `Bearer ${TOKEN}` }), [TOKEN])).toBe(false);
    expect(isMonitorPoll(req({ [MONITOR_HEADER]: "1", authorization: "Bearer " }), [])).toBe(false);
  });
});

describe("ServiceHost request log", () => {
  it("logs a request with only the monitor header at info, the AppHost's authenticated poll at debug", async () => {
    const lines: Array<{ level: number; msg: string; path?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n").filter(Boolean))
          lines.push(JSON.parse(line) as { level: number; msg: string; path?: string });
        done();
      },
    });
    const host = new ServiceHost({
      name: "monitor-test",
      version: "1.0.0",
      logger: pino({ level: "debug" }, sink),
      port: 0,
      handleSignals: false,
      admin: { routePrefixes: ["/api/admin"], tokens: [TOKEN] },
    });
    hosts.push(host);
    host.route({
      method: "get",
      path: "/api/public",
      summary: "Public",
      responses: { 200: { description: "OK" } },
      handler: ({ res }) => void res.json({ ok: true }),
    });
    const { url } = await host.start();
    const requestLevel = async (headers: Record<string, string>): Promise<number | undefined> => {
      const before = lines.length;
      expect((await fetch(`${url}/api/public`, { headers })).status).toBe(200);
      // The log line is written when the response finishes, which may be just after the client has it.
      await expect.poll(() => lines.slice(before).some((l) => l.msg === "request")).toBe(true);
      return lines.slice(before).find((l) => l.msg === "request")?.level;
    };
    const INFO = 30;
    const DEBUG = 20;
    expect(await requestLevel({})).toBe(INFO);
    expect(await requestLevel({ [MONITOR_HEADER]: "1" })).toBe(INFO);
    expect(await requestLevel({ [MONITOR_HEADER]: "1", authorization: "Bearer not-the-token-at-all" })).toBe(
      INFO,
    );
    expect(await requestLevel({ [MONITOR_HEADER]: "1", authorization: `Bearer ${TOKEN}` })).toBe(DEBUG);
  });
});

// A service in miniature with the instrumentation preloaded, requesting itself three ways.
const TRACED_APP = `
import { ServiceHost, adminTokensFromEnv, createLogger } from "@outbox/service-defaults";
const host = new ServiceHost({ name: "monitor-app", version: "0", logger: createLogger("monitor-app", "warn"),
  port: 0, handleSignals: false, admin: { routePrefixes: ["/api/admin"], tokens: adminTokensFromEnv() } });
host.route({ method: "get", path: "/ping/:id", summary: "ping", responses: { 200: { description: "pong" } },
  handler: ({ res }) => { res.json({ pong: true }); } });
const { url } = await host.start();
await fetch(url + "/ping/plain");
await fetch(url + "/ping/header-only", { headers: { "${MONITOR_HEADER}": "1" } });
await fetch(url + "/ping/monitor", { headers: { "${MONITOR_HEADER}": "1", authorization: "Bearer ${TOKEN}" } });
console.log("DONE");
await host.stop();
`;

describe("tracing of monitor polls", () => {
  it("traces a request with only the monitor header; skips the AppHost's authenticated poll", async () => {
    const bodies: string[] = [];
    const sink = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        if (req.url === "/v1/traces") bodies.push(body);
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    servers.push(sink);
    await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          "--conditions=outbox-source",
          "--import",
          "tsx",
          "--import",
          "@outbox/service-defaults/instrument",
          "--input-type=module",
          "-e",
          TRACED_APP,
        ],
        {
          cwd: fileURLToPath(new URL("..", import.meta.url)),
          env: { PATH: process.env.PATH, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ADMIN_TOKEN: TOKEN },
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      child.on("error", reject);
      child.on("exit", () => resolve(out));
    });
    expect(stdout).toContain("DONE");
    // The server spans' paths (the app's source is in the resource attributes, so not the raw text).
    const paths = bodies.flatMap((body) =>
      [...body.matchAll(/"key":"url\.path","value":\{"stringValue":"([^"]*)"/g)].map((m) => m[1]),
    );
    // Precondition: requests are traced at all.
    expect(paths).toContain("/ping/plain");
    expect(paths).toContain("/ping/header-only");
    expect(paths).not.toContain("/ping/monitor");
  });
});
