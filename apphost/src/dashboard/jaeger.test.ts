import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LogSink } from "../runtime/log-sink.js";
import { isPortFree } from "../runtime/ports.js";
import { DashboardServer } from "./dashboard-server.js";
import {
  JAEGER_CONFIG,
  JAEGER_OTLP_HTTP_PORT,
  JAEGER_QUERY_GRPC_PORT,
  JAEGER_UI_PORT,
  JaegerProcess,
  findOnPath,
} from "./jaeger.js";

const dirs: string[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "jaeger-test-"));
  dirs.push(dir);
  return dir;
}

// Stands in for Jaeger v2: records its arguments and environment beside itself, and listens on
// the endpoints its --config file names until SIGTERM.
const FAKE_JAEGER = `#!${process.execPath}
const fs = require("node:fs");
const http = require("node:http");
const args = process.argv.slice(2);
fs.writeFileSync(__filename + ".record.json", JSON.stringify({ args, env: process.env }));
const config = fs.readFileSync(args[args.indexOf("--config") + 1], "utf8");
const servers = [...config.matchAll(/endpoint: (\\S+):(\\d+)/g)].map(([, host, port]) =>
  http.createServer((req, res) => res.end("{}")).listen(Number(port), host));
console.log("fake jaeger up");
process.on("SIGTERM", () => { for (const s of servers) s.close(); process.exit(0); });
`;

describe("Jaeger in process mode", () => {
  it("is skipped with a message when no jaeger binary is on PATH", async () => {
    const dir = await tempDir();
    const messages: string[] = [];
    const logs = new LogSink({ directory: dir, console: false });
    closers.push(() => logs.close());
    const jaeger = await JaegerProcess.start({ logs, say: (m) => messages.push(m), searchPath: dir });
    expect(jaeger).toBeUndefined();
    expect(messages.join("\n")).toMatch(/no `jaeger` binary on PATH; skipped/);
    expect(findOnPath("node", process.env.PATH)).toBeDefined();
  });

  it("runs a jaeger found on PATH, lists it, and stops it", async () => {
    // Jaeger's ports are fixed: a machine where they are taken fails here rather than skipping.
    expect(await isPortFree(JAEGER_UI_PORT), `port ${JAEGER_UI_PORT} is taken`).toBe(true);
    expect(await isPortFree(JAEGER_OTLP_HTTP_PORT), `port ${JAEGER_OTLP_HTTP_PORT} is taken`).toBe(true);
    expect(await isPortFree(JAEGER_QUERY_GRPC_PORT), `port ${JAEGER_QUERY_GRPC_PORT} is taken`).toBe(true);
    const dir = await tempDir();
    await fs.writeFile(path.join(dir, "jaeger"), FAKE_JAEGER, { mode: 0o755 });
    process.env.APPHOST_JAEGER_TEST_PARENT_ONLY = "an AppHost-only value";
    closers.push(() => {
      delete process.env.APPHOST_JAEGER_TEST_PARENT_ONLY;
      return Promise.resolve();
    });
    const logs = new LogSink({ directory: dir, console: false });
    closers.push(() => logs.close());
    const jaeger = await JaegerProcess.start({ logs, say: () => {}, searchPath: dir });
    expect(jaeger).toBeDefined();
    closers.push(async () => jaeger?.stop());
    expect(jaeger?.snapshot()).toMatchObject({
      name: "jaeger",
      state: "Running",
      endpoints: { ui: `http://127.0.0.1:${JAEGER_UI_PORT}` },
    });
    const record = JSON.parse(await fs.readFile(path.join(dir, "jaeger.record.json"), "utf8")) as {
      args: string[];
      env: Record<string, string>;
    };
    // Jaeger's own defaults listen on every interface: the AppHost's config names 127.0.0.1 for each.
    expect(record.args[0]).toBe("--config");
    expect(JAEGER_CONFIG).not.toMatch(/0\.0\.0\.0|localhost/);
    const endpoints = [...JAEGER_CONFIG.matchAll(/endpoint: (\S+)/g)].map((m) => m[1]);
    expect(endpoints).toEqual([
      `127.0.0.1:${JAEGER_UI_PORT}`,
      `127.0.0.1:${JAEGER_QUERY_GRPC_PORT}`,
      `127.0.0.1:${JAEGER_OTLP_HTTP_PORT}`,
    ]);
    expect(JAEGER_CONFIG).toMatch(/enable_tracing: false/);
    // Not the AppHost's environment: a variable only the AppHost has does not reach Jaeger.
    expect(record.env.APPHOST_JAEGER_TEST_PARENT_ONLY).toBeUndefined();
    expect(record.env.PATH).toBe(process.env.PATH);
    await jaeger?.stop();
    expect(jaeger?.snapshot().state).toBe("Exited");
  });
});

describe("OTLP forwarding", () => {
  it("copies accepted trace batches to the forward endpoint", async () => {
    const received: string[] = [];
    const target = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push(`${req.url} ${body}`);
        res.end("{}");
      });
    });
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise((resolve) => target.close(() => resolve())));
    const dashboard = new DashboardServer({
      port: 0,
      secrets: { loginToken: "t", otlpApiKey: "k", toolToken: "b".repeat(48) },
      forwardOtlpTo: `http://127.0.0.1:${(target.address() as AddressInfo).port}`,
    });
    await dashboard.listen();
    closers.push(() => dashboard.close());
    const response = await fetch(`${dashboard.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-otlp-api-key": "k" },
      body: JSON.stringify({ resourceSpans: [] }),
    });
    expect(response.status).toBe(200);
    const deadline = Date.now() + 5000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual(['/v1/traces {"resourceSpans":[]}']);
  });
});
