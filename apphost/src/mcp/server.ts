import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";
import { ControlClient } from "../cli/control-client.js";
import { requireRunningAppHost } from "../cli/state-files.js";
import { CORE_TOOLS, type ContributedTool } from "../dashboard/contribution.js";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";

type ToolResult = { content: Array<{ type: "text"; text: string }>; isError?: boolean };

/**
 * The AppHost for coding agents (like `aspire agent mcp`): an MCP server over stdio that reads a
 * running AppHost through its dashboard API, with the same token a logged-in browser has (from
 * the 0600 control file in the state directory). It holds no state: start it before or after the
 * AppHost; every call finds the AppHost that runs now. Its tools are the AppHost's own plus those
 * of the model's dashboard contributions (`tools`).
 */
export function createMcpServer(stateDir: string, tools: readonly ContributedTool[] = []): McpServer {
  const server = new McpServer({ name: "outbox-apphost", version: "0.1.0" });
  const client = async () => new ControlClient(await requireRunningAppHost(stateDir));
  const tool = async (work: (c: ControlClient) => Promise<unknown>): Promise<ToolResult> => {
    try {
      const result = await work(await client());
      return {
        content: [
          { type: "text", text: typeof result === "string" ? result : JSON.stringify(result, null, 2) },
        ],
      };
    } catch (error) {
      return { content: [{ type: "text", text: (error as Error).message }], isError: true };
    }
  };
  const query = (params: Record<string, string | number | boolean | undefined>) =>
    new URLSearchParams(
      Object.entries(params).flatMap(([k, v]) =>
        v === undefined || v === "" ? [] : [[k, String(v)] as [string, string]],
      ),
    ).toString();

  server.registerTool(
    "list_resources",
    {
      title: "Resources",
      description:
        "Every resource of the application: kind, state, health, endpoints, dependencies and custom commands.",
    },
    () =>
      tool(async (c) =>
        (await c.get<ResourceSnapshot[]>("/api/resources")).map((r) => ({
          name: r.name,
          kind: r.kind,
          state: r.state,
          health: r.health,
          healthDetail: r.healthDetail,
          endpoints: r.endpoints,
          dependsOn: r.dependsOn,
          commands: r.commands?.map((command) => command.name),
        })),
      ),
  );

  server.registerTool(
    "console_logs",
    {
      title: "Console logs",
      description: "The latest console output of one resource (what it printed), oldest first.",
      inputSchema: {
        resource: z.string().describe("Resource name, e.g. receiver"),
        text: z.string().optional().describe("Only lines containing this text"),
        limit: z.number().int().min(1).max(2000).optional().describe("At most this many lines (default 200)"),
      },
    },
    ({ resource, text, limit }) =>
      tool(async (c) => {
        const lines = await c.get<Array<{ time: number; stream: string; text: string }>>(
          `/api/console?${query({ resource, text, limit: limit ?? 200 })}`,
        );
        return (
          lines.map((l) => `${new Date(l.time).toISOString()} ${l.stream} ${l.text}`).join("\n") ||
          "(no lines)"
        );
      }),
  );

  server.registerTool(
    "structured_logs",
    {
      title: "Structured logs",
      description: "OpenTelemetry log records the services sent, newest first, with trace ids.",
      inputSchema: {
        service: z.string().optional(),
        text: z.string().optional(),
        traceId: z.string().optional(),
        minSeverity: z.number().int().optional().describe("OTLP severity number: 9 info, 13 warn, 17 error"),
        limit: z.number().int().min(1).max(1000).optional(),
      },
    },
    ({ service, text, traceId, minSeverity, limit }) =>
      tool((c) => c.get(`/api/logs?${query({ service, text, traceId, minSeverity, limit: limit ?? 100 })}`)),
  );

  server.registerTool(
    "list_traces",
    {
      title: "Traces",
      description: "Recent traces (newest first): root span, services, duration, error flag.",
      inputSchema: {
        service: z.string().optional(),
        errorOnly: z.boolean().optional(),
        text: z.string().optional().describe("Span name or trace id contains"),
        limit: z.number().int().min(1).max(500).optional(),
      },
    },
    ({ service, errorOnly, text, limit }) =>
      tool((c) => c.get(`/api/traces?${query({ service, error: errorOnly, text, limit: limit ?? 50 })}`)),
  );

  server.registerTool(
    "get_trace",
    {
      title: "Trace",
      description: "Every span of one trace (service, name, kind, timing, status, attributes) and its logs.",
      inputSchema: { traceId: z.string().regex(/^[0-9a-fA-F]{32}$/) },
    },
    ({ traceId }) => tool((c) => c.get(`/api/traces/${traceId.toLowerCase()}`)),
  );

  server.registerTool(
    "restart_resource",
    {
      title: "Restart a resource",
      description:
        "Restarts one resource (same data, ports and credentials); answers at once, state changes follow.",
      inputSchema: { resource: z.string() },
      annotations: { destructiveHint: true, idempotentHint: false },
    },
    ({ resource }) => tool((c) => c.post(`/api/resources/${encodeURIComponent(resource)}/restart`)),
  );

  // The model's dashboard contributions bring their own tools (the outbox services' message
  // journey); each is answered by one of the contribution's dashboard routes.
  for (const contributed of tools) {
    if (CORE_TOOLS.has(contributed.name))
      throw new Error(`MCP tool "${contributed.name}" is one of the AppHost's own`);
    server.registerTool(
      contributed.name,
      {
        title: contributed.title,
        description: contributed.description,
        inputSchema: contributed.inputSchema,
      },
      (input: Record<string, unknown>) => tool((c) => c.get(contributed.path(input))),
    );
  }

  return server;
}

/** `npm run apphost -- mcp`: serves until stdin closes. */
export async function serveMcp(stateDir: string, tools: readonly ContributedTool[] = []): Promise<number> {
  const server = createMcpServer(stateDir, tools);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  await server.connect(transport);
  process.stdin.once("end", () => void server.close());
  await closed;
  return 0;
}
