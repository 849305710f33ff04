import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeControlFile } from "../cli/state-files.js";
import { CORE_TOOLS } from "../dashboard/contribution.js";
import { outboxMessaging } from "../dashboard/contributions/outbox-messaging/index.js";
import { DashboardServer } from "../dashboard/dashboard-server.js";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import { LogSink } from "../runtime/log-sink.js";
import { repositoryRoot } from "../testing.js";
import { createMcpServer } from "./server.js";

const secrets = { loginToken: "t".repeat(48), otlpApiKey: "k".repeat(48), toolToken: "b".repeat(48) };
const TRACE = "0af7651916cd43dd8448eb211c80319c";
let dir: string;
let dashboard: DashboardServer;
let logs: LogSink;
let client: Client;
let restarted: string[];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-mcp-"));
  restarted = [];
  dashboard = new DashboardServer({ port: 0, secrets });
  await dashboard.listen();
  logs = new LogSink({ directory: dir, console: false });
  const receiver: ResourceSnapshot = {
    name: "receiver",
    kind: "node-service",
    state: "Running",
    health: "Healthy",
    pid: 1,
    endpoints: { http: "http://127.0.0.1:9" },
    logFile: path.join(dir, "receiver.log"),
    dependsOn: ["broker"],
  };
  dashboard.attach({
    logs,
    snapshot: () => [receiver],
    startResource: () => Promise.resolve(),
    stopResource: () => Promise.resolve(),
    restartResource: (name) => Promise.resolve(void restarted.push(name)),
  });
  logs.write("receiver", "stdout", "consumer attached");
  dashboard.store.add("spans", [
    {
      traceId: TRACE,
      spanId: "b7ad6b7169203331",
      name: "POST /api/EntityItems",
      kind: "server",
      service: "sender",
      startMs: 1000,
      endMs: 1012,
      durationMs: 12,
      error: false,
      attributes: {},
      events: [],
    },
  ]);
  // The AppHost "runs" in this process: the control file points at this dashboard.
  await writeControlFile(dir, {
    pid: process.pid,
    dashboardUrl: dashboard.url,
    token: secrets.toolToken,
    ready: true,
    startedAt: new Date().toISOString(),
  });
  // `npm run apphost -- mcp`, as an agent's MCP client starts it.
  client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [
        "--conditions=outbox-source",
        "--import",
        "tsx",
        path.join(repositoryRoot, "apphost/src/cli.ts"),
        "mcp",
        "--state-dir",
        dir,
      ],
      cwd: repositoryRoot,
      stderr: "pipe",
    }),
  );
});

afterEach(async () => {
  await client.close();
  await dashboard.close();
  await logs.close();
  await fs.rm(dir, { recursive: true, force: true });
});

function text(result: unknown): string {
  const content = (result as { content: Array<{ type: string; text: string }> }).content;
  return content.map((c) => c.text).join("\n");
}

/** The MCP server of a model whose dashboard contributions bring `tools`, in this process. */
async function inProcess(tools: Parameters<typeof createMcpServer>[1]): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createMcpServer(dir, tools).connect(serverSide);
  const local = new Client({ name: "test-agent", version: "1.0.0" });
  await local.connect(clientSide);
  return local;
}

describe("the MCP server (npm run apphost -- mcp)", () => {
  it("lists this repository's model's tools, the message journey among them, and serves resources, console logs and a trace", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "console_logs",
      "get_trace",
      "list_resources",
      "list_traces",
      "message_journey",
      "restart_resource",
      "structured_logs",
    ]);
    const resources = JSON.parse(
      text(await client.callTool({ name: "list_resources", arguments: {} })),
    ) as Array<{
      name: string;
      state: string;
      endpoints: Record<string, string>;
    }>;
    expect(resources).toEqual([
      expect.objectContaining({
        name: "receiver",
        state: "Running",
        endpoints: { http: "http://127.0.0.1:9" },
      }),
    ]);
    expect(
      text(await client.callTool({ name: "console_logs", arguments: { resource: "receiver" } })),
    ).toContain("stdout consumer attached");
    const traces = text(await client.callTool({ name: "list_traces", arguments: {} }));
    expect(traces).toContain(TRACE);
    const trace = JSON.parse(
      text(await client.callTool({ name: "get_trace", arguments: { traceId: TRACE } })),
    ) as {
      spans: Array<{ name: string }>;
    };
    expect(trace.spans.map((s) => s.name)).toEqual(["POST /api/EntityItems"]);
  });

  it("restarts a resource through the dashboard's authorisation, and says so when no AppHost runs", async () => {
    const result = await client.callTool({ name: "restart_resource", arguments: { resource: "receiver" } });
    expect(result.isError).toBeFalsy();
    await expect.poll(() => restarted).toEqual(["receiver"]);
    await fs.rm(path.join(dir, "control.json"));
    const down = await client.callTool({ name: "list_resources", arguments: {} });
    expect(down.isError).toBe(true);
    expect(text(down)).toContain("No AppHost is running");
  });

  it("lists a contribution's tools only for a model that declares it, answered by its dashboard route", async () => {
    const plain = await inProcess([]);
    try {
      expect((await plain.listTools()).tools.map((t) => t.name).sort()).toEqual([...CORE_TOOLS].sort());
    } finally {
      await plain.close();
    }
    const outbox = await inProcess(outboxMessaging({ services: [{ name: "receiver" }] }).tools);
    try {
      expect((await outbox.listTools()).tools.map((t) => t.name)).toContain("message_journey");
      // This dashboard's model has no contribution: the route the tool asks answers 404.
      const result = await outbox.callTool({ name: "message_journey", arguments: { id: "x y" } });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/404/);
    } finally {
      await outbox.close();
    }
  });
});
