import fsp from "node:fs/promises";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { LogSink } from "../runtime/log-sink.js";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import {
  LoginToken,
  OTLP_API_KEY_HEADER,
  SessionStore,
  isSameOrigin,
  safeEqual,
  type DashboardSecrets,
  type SessionLimits,
} from "./auth.js";
import type { CommandResult } from "../model/commands.js";
import { CommandError } from "../runtime/commands.js";
import { maskSecrets } from "../runtime/parameters.js";
import { hasBearerToken } from "./control-access.js";
import { ContributionRegistry, type DashboardContribution } from "./contribution.js";
import { DashboardHosts } from "./dashboard-hosts.js";
import { exportTelemetry, importTelemetry } from "./telemetry-export.js";
import { ConsoleLogBuffer, type ConsoleLine } from "./console-logs.js";
import { maskEnvironment } from "./mask.js";
import { DEFAULT_OTLP_INTAKE_LIMITS, OtlpIntake, OtlpRefusal, type OtlpIntakeLimits } from "./otlp-intake.js";
import { parseLogs, parseMetrics, parseTraces } from "./otlp-json.js";
import { TelemetryStore, type AddResult, type TelemetryStoreOptions } from "./telemetry-store.js";

export const DEFAULT_DASHBOARD_PORT = 18888;
const UI_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "ui");
/** An exported telemetry file (signed-in users only); the store's memory budget bounds what is kept. */
const MAX_TELEMETRY_IMPORT_BYTES = 64 * 1024 * 1024;
/** The dashboard's own pages; contributions add theirs. */
const PAGES = new Set(["/", "/resources", "/console", "/traces", "/logs", "/metrics", "/graph"]);
/** A Map, not an object literal: `/assets/constructor` must not find Object.prototype's members. */
const ASSETS = new Map<string, string>([
  ["app.js", "text/javascript; charset=utf-8"],
  ["graph.js", "text/javascript; charset=utf-8"],
  ["metric-charts.js", "text/javascript; charset=utf-8"],
  ["app.css", "text/css; charset=utf-8"],
  ["favicon.svg", "image/svg+xml"],
]);

/** What the dashboard needs from a running application (DistributedApplication fits; tests may fake it). */
export interface DashboardApp {
  readonly logs: LogSink;
  snapshot(): ResourceSnapshot[];
  startResource(name: string): Promise<void>;
  stopResource(name: string): Promise<void>;
  restartResource(name: string): Promise<void>;
  environmentOf?(name: string): Record<string, string> | undefined;
  onChange?(listener: () => void): () => void;
  /** Custom commands (`withCommand`). */
  runCommand?(name: string, command: string): Promise<CommandResult>;
  /** Secret parameter values and generated credentials: masked in every view. */
  secretValues?(): string[];
  /** The model's dashboard contributions (pages, routes, tools); none when absent. */
  readonly model?: { dashboardContributions(): readonly DashboardContribution[] };
}

/** A process the AppHost runs beside the model (Jaeger): listed on the Resources page, not controlled there. */
export interface ExtraResource {
  snapshot(): Omit<ResourceSnapshot, "kind" | "state" | "health"> & {
    kind: string;
    state: string;
    health: string;
  };
}

export interface DashboardOptions {
  /** 0 = any free port. */
  port?: number;
  /** When the requested port is taken, fall back to a free one instead of failing. */
  fallbackToFreePort?: boolean;
  /** Address to bind (default 127.0.0.1); tools and OTLP exporters use it as their Host. */
  host?: string;
  /**
   * The random part of the browser host name `apphost-<port>-<label>.localhost` (default: new per
   * run). Tests may fix it; a predictable label lets a service's page obtain the session cookie.
   */
  hostLabel?: string;
  secrets: DashboardSecrets;
  /** `.apphost/telemetry`; omitted = memory only. */
  telemetryDir?: string;
  /** Forget persisted telemetry (e.g. `--fresh`). */
  fresh?: boolean;
  /** OTLP/HTTP base URL to copy every accepted OTLP request to (Jaeger). */
  forwardOtlpTo?: string;
  log?: (message: string) => void;
  /** How long a client may take to send a whole request (default 30 s) and its headers (10 s). */
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** Session idle time and count (defaults in SessionStore). */
  sessionLimits?: SessionLimits;
  /** OTLP body limits (defaults: DEFAULT_OTLP_INTAKE_LIMITS). */
  otlpLimits?: Partial<OtlpIntakeLimits>;
  /** Telemetry kept in memory: distinct services and bytes (defaults in TelemetryStore). */
  telemetryLimits?: Pick<TelemetryStoreOptions, "maxServices" | "maxBytes">;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

/**
 * The AppHost dashboard: OTLP/HTTP JSON intake (API key), a token login that becomes a session
 * cookie, JSON APIs and server-sent events over the application and its telemetry, and a small
 * static UI (no build step, no CDN).
 */
export class DashboardServer {
  readonly store: TelemetryStore;
  readonly console = new ConsoleLogBuffer();
  readonly intake: OtlpIntake;
  private readonly loginToken: LoginToken;
  private app: DashboardApp | undefined;
  private server: http.Server | undefined;
  private sessions: SessionStore | undefined;
  private readonly abort = new AbortController();
  private contributions = new ContributionRegistry();
  private readonly cleanups: Array<() => void> = [];
  private readonly streams = new Set<ServerResponse>();
  private hosts: DashboardHosts | undefined;
  private readonly extras: ExtraResource[] = [];

  constructor(private readonly options: DashboardOptions) {
    this.store = new TelemetryStore({ directory: options.telemetryDir, ...options.telemetryLimits });
    this.loginToken = new LoginToken(options.secrets.loginToken, () =>
      options.log?.(`login link used; a new one for the next browser: ${this.loginUrl}`),
    );
    this.intake = new OtlpIntake({ ...DEFAULT_OTLP_INTAKE_LIMITS, ...options.otlpLimits });
  }

  /** Binds the port and loads persisted telemetry; resources appear once `attach` is called. */
  async listen(): Promise<void> {
    if (this.options.telemetryDir && this.options.fresh)
      await fsp.rm(this.options.telemetryDir, { recursive: true, force: true });
    await this.store.load();
    const host = this.options.host ?? "127.0.0.1";
    const requested = this.options.port ?? DEFAULT_DASHBOARD_PORT;
    try {
      this.server = await bind(host, requested, this.handle, this.options);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || !this.options.fallbackToFreePort)
        throw error;
      this.options.log?.(`dashboard port ${requested} is taken; using a free port`);
      this.server = await bind(host, 0, this.handle, this.options);
    }
    const port = (this.server.address() as AddressInfo).port;
    this.hosts = new DashboardHosts(port, host, this.options.hostLabel);
    this.sessions = new SessionStore(port, this.options.sessionLimits);
  }

  /** Shows `app`: its resources, console and the contributions its model declares. */
  attach(app: DashboardApp): void {
    if (this.app) throw new Error("the dashboard already shows an application");
    this.app = app;
    this.contributions = new ContributionRegistry(app.model?.dashboardContributions() ?? []);
    this.contributions.activate({
      resources: () => app.snapshot(),
      environmentOf: (resource) => app.environmentOf?.(resource),
      telemetry: {
        spans: (traceId) => this.store.trace(traceId),
        logs: (traceId) => this.store.logs({ traceId, limit: 1000 }),
        traceIdsWhere: (attribute, value) => this.store.traceIdsWhere(attribute, value),
      },
      signal: this.abort.signal,
    });
    this.cleanups.push(
      app.logs.onLine((line) =>
        this.console.add({ ...line, text: maskSecrets(line.text, app.secretValues?.() ?? []) }),
      ),
    );
    if (app.onChange) this.cleanups.push(app.onChange(() => this.broadcast("resources")));
  }

  /** Lists a process that runs beside the model and copies OTLP traces to it when it has an endpoint. */
  addExtraResource(resource: ExtraResource, forwardOtlpTo?: string): void {
    this.extras.push(resource);
    if (forwardOtlpTo) this.options.forwardOtlpTo = forwardOtlpTo;
  }

  /** Copies the OTLP traces the dashboard receives to `url` (a Jaeger resource of the model). */
  forwardTracesTo(url: string): void {
    this.options.forwardOtlpTo = url;
  }

  /** Seeds the console view with the tail of the previous run's log files. */
  async seedConsole(): Promise<void> {
    if (!this.app) return;
    const app = this.app;
    for (const resource of app.snapshot())
      await this.console.seedFromFile(resource.name, resource.logFile, undefined, (text) =>
        maskSecrets(text, app.secretValues?.() ?? []),
      );
  }

  /**
   * `http://127.0.0.1:<port>`: for clients that authenticate with their own secret and send no
   * cookie — the OTLP endpoint injected into services, and the CLI/MCP tools' base URL. Pages,
   * login and session cookies answer only on `browserUrl`.
   */
  get url(): string {
    return this.requireHosts().machineUrl;
  }

  /** `http://apphost-<port>-<label>.localhost:<port>`: the only address a browser can use. */
  get browserUrl(): string {
    return this.requireHosts().browserUrl;
  }

  /** The browser host name without the port (for tests that resolve it themselves). */
  get browserHostName(): string {
    return this.requireHosts().browserHost.replace(/:\d+$/, "");
  }

  get loginUrl(): string {
    return `${this.browserUrl}/login?t=${this.loginToken.value}`;
  }

  /** Value for OTEL_EXPORTER_OTLP_HEADERS. */
  get otlpHeaders(): string {
    return `${OTLP_API_KEY_HEADER}=${this.options.secrets.otlpApiKey}`;
  }

  async close(): Promise<void> {
    this.abort.abort();
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    const server = this.server;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.contributions.stopped();
    await this.store.flush();
  }

  // ---- routing ----

  private readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    // Everything the UI needs is served from here; nothing inline, nothing from elsewhere.
    res.setHeader(
      "Content-Security-Policy",
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    );
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "no-referrer");
    // Parsing, decoding and routing run inside the promise chain: whatever a request contains, a
    // throw becomes this request's 400 or 500, never an uncaught exception of the AppHost.
    Promise.resolve()
      .then(() => {
        const url = requestUrl(req.url);
        const audience = this.hosts?.audienceOf(req);
        // Before routing and before any session lookup: a cookie counts only on the browser name;
        // the machine address serves OTLP (API key) and tools (bearer token), nothing else.
        if (
          audience === undefined ||
          (audience === "machine" && !url.pathname.startsWith("/v1/") && !this.isTool(req))
        )
          return sendJson(res, 421, {
            error: "wrong host: open the dashboard link printed by the AppHost",
          });
        return this.route(req.method ?? "GET", url.pathname)(req, res, url);
      })
      .catch((error: unknown) => this.fail(req, res, error));
  };

  private fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    if (error instanceof RequestError) {
      // After a 413 the connection stays open while the rest of the body is read and dropped (bounded
      // by the request timeout): closing it at once made a client still sending see a reset (seen
      // in CI), not the 413.
      if (!res.headersSent) sendJson(res, error.status, { error: error.message });
      else res.end();
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    this.options.log?.(`dashboard: ${req.method ?? "?"} request failed: ${message}`);
    if (!res.headersSent) sendJson(res, 500, { error: "internal error; see the AppHost log" });
    else res.end();
  }

  private route(method: string, pathname: string): Handler {
    if (pathname.startsWith("/v1/")) return method === "POST" ? this.otlp : notAllowed;
    if (pathname === "/login") return method === "POST" ? this.loginPost : this.loginGet;
    if (pathname === "/logout" && method === "POST") return this.requireSession(this.sameOrigin(this.logout));
    if (pathname.startsWith("/assets/")) return this.asset;
    if (pathname.startsWith("/api/")) return this.requireSession(this.api(method, pathname));
    if (
      method === "GET" &&
      (PAGES.has(pathname) ||
        /^\/traces\/[0-9a-f]{32}$/.test(pathname) ||
        this.contributions.page(pathname.slice(1)) !== undefined)
    )
      return this.requireSession(this.page, true);
    return (_req, res) => sendJson(res, 404, { error: "not found" });
  }

  private api(method: string, pathname: string): Handler {
    const parts = pathname.split("/").slice(2).map(decodeSegment);
    const [first, second, third, fourth] = parts;
    if (method === "GET") {
      if (first === "resources" && !second) return this.resources;
      if (first === "resources" && second === "stream") return this.resourceStream;
      if (first === "console" && !second) return this.consoleQuery;
      if (first === "console" && second === "stream") return this.consoleStream;
      if (first === "console" && second === "download") return this.consoleDownload;
      if (first === "traces" && !second) return this.traceList;
      if (first === "traces" && second) return (req, res) => this.traceDetail(res, second);
      if (first === "logs") return this.logQuery;
      if (first === "metrics" && !second) return this.metricList;
      if (first === "metrics" && second === "series") return this.metricSeries;
      if (first === "telemetry" && second === "export")
        return (_req, res) => {
          res.setHeader(
            "Content-Disposition",
            `attachment; filename="apphost-telemetry-${Date.now()}.otlp.json"`,
          );
          sendJson(res, 200, exportTelemetry(this.store));
        };
      if (first === "services") return (_req, res) => sendJson(res, 200, this.store.services());
    }
    if (method === "POST") {
      if (first === "resources" && second && third && ["start", "stop", "restart"].includes(third))
        return this.sameOrigin((_req, res) =>
          this.resourceAction(res, second, third as "start" | "stop" | "restart"),
        );
      if (first === "telemetry" && second === "import")
        return this.sameOrigin(async (req, res) => {
          try {
            const counts = importTelemetry(
              this.store,
              JSON.parse((await readBody(req, MAX_TELEMETRY_IMPORT_BYTES)).toString("utf8")),
            );
            this.broadcast("spans");
            sendJson(res, 200, counts);
          } catch (error) {
            // Too large (413) is the body's size, not its content.
            if (error instanceof RequestError) throw error;
            sendJson(res, 400, { error: `not an exported telemetry file: ${(error as Error).message}` });
          }
        });
      if (first === "resources" && second && third === "commands" && fourth)
        return this.sameOrigin((_req, res) => this.command(res, second, fourth));
    }
    const contributed = this.contributions.match(method, parts);
    if (contributed) {
      const { route, params } = contributed;
      const handler: Handler = async (_req, res, url) => {
        const answer = await route.handle({ params, query: url.searchParams });
        if ("json" in answer) return sendJson(res, answer.status, answer.json);
        res.writeHead(answer.status, { "Content-Type": answer.contentType }).end(answer.text);
      };
      return route.method === "POST" ? this.sameOrigin(handler) : handler;
    }
    return (_req, res) => sendJson(res, 404, { error: "not found" });
  }

  private requireSession(handler: Handler, page = false): Handler {
    return (req, res, url) => {
      // The tool check first: a tool's request never touches the session store.
      if (this.isTool(req) || this.sessions?.sessionOf(req)) return handler(req, res, url);
      if (page) {
        res.writeHead(302, { Location: "/login" }).end();
        return;
      }
      sendJson(res, 401, { error: "log in first: open the dashboard link printed by the AppHost" });
    };
  }

  private isTool(req: IncomingMessage): boolean {
    return hasBearerToken(req, this.options.secrets.toolToken);
  }

  private sameOrigin(handler: Handler): Handler {
    return (req, res, url) => {
      if (!isSameOrigin(req) && !this.isTool(req)) {
        sendJson(res, 403, { error: "cross-origin request refused" });
        return;
      }
      return handler(req, res, url);
    };
  }

  // ---- login ----

  private readonly loginGet: Handler = async (req, res, url) => {
    const token = url.searchParams.get("t");
    if (token === null) return this.loginPage(res, 200);
    if (!this.loginToken.consume(token))
      return this.loginPage(res, 401, "That token is not valid (each login link works once).");
    this.startSession(res);
  };

  private readonly loginPost: Handler = async (req, res) => {
    if (!isSameOrigin(req)) return sendJson(res, 403, { error: "cross-origin request refused" });
    const body = (await readBody(req, 4096)).toString("utf8");
    const token = new URLSearchParams(body).get("token") ?? "";
    if (!this.loginToken.consume(token.trim()))
      return this.loginPage(res, 401, "That token is not valid (each login link works once).");
    this.startSession(res);
  };

  private startSession(res: ServerResponse): void {
    const sessions = this.requireSessions();
    res.writeHead(302, { Location: "/", "Set-Cookie": sessions.cookieFor(sessions.create()) }).end();
  }

  private readonly logout: Handler = (req, res) => {
    const sessions = this.requireSessions();
    const id = sessions.sessionOf(req);
    if (id) sessions.end(id);
    res.writeHead(302, { Location: "/login", "Set-Cookie": sessions.clearingCookie() }).end();
  };

  private async loginPage(res: ServerResponse, status: number, error?: string): Promise<void> {
    const template = await fsp.readFile(path.join(UI_DIR, "login.html"), "utf8");
    const html = template.replace("<!--error-->", error ? `<p class="error">${escapeHtml(error)}</p>` : "");
    res
      .writeHead(status, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" })
      .end(html);
  }

  private readonly page: Handler = async (_req, res) => {
    const template = await fsp.readFile(path.join(UI_DIR, "index.html"), "utf8");
    const html = template.replace("<!--contributed pages-->", this.contributions.navigationHtml());
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" }).end(html);
  };

  private readonly asset: Handler = async (_req, res, url) => {
    const name = url.pathname.slice("/assets/".length);
    const contributed = /^pages\/([a-z][a-z0-9-]*)\.js$/.exec(name);
    const page = contributed ? this.contributions.page(contributed[1] ?? "") : undefined;
    if (page) {
      const content = await fsp.readFile(page.module);
      res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache" });
      return void res.end(content);
    }
    const type = ASSETS.get(name);
    if (!type) return sendJson(res, 404, { error: "not found" });
    const content = await fsp.readFile(path.join(UI_DIR, name));
    res.writeHead(200, { "Content-Type": type, "Cache-Control": "no-cache" }).end(content);
  };

  // ---- OTLP intake ----

  private readonly otlp: Handler = async (req, res, url) => {
    const key = req.headers[OTLP_API_KEY_HEADER];
    if (!safeEqual(typeof key === "string" ? key : undefined, this.options.secrets.otlpApiKey))
      return sendJson(res, 401, { error: `missing or wrong ${OTLP_API_KEY_HEADER}` });
    const signal = url.pathname.slice("/v1/".length);
    if (!["traces", "metrics", "logs"].includes(signal)) return sendJson(res, 404, { error: "not found" });
    const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim();
    if (type !== "application/json")
      return sendJson(res, 415, {
        error: "only OTLP/HTTP JSON is accepted: set OTEL_EXPORTER_OTLP_PROTOCOL=http/json",
      });
    let read: { body: Buffer; release: () => void };
    try {
      read = await this.intake.read(req);
    } catch (error) {
      if (!(error instanceof OtlpRefusal)) throw error;
      if (error.retryAfterSeconds !== undefined)
        res.setHeader("Retry-After", String(error.retryAfterSeconds));
      return sendJson(res, error.status, { error: error.message });
    }
    const raw = read.body;
    let result: AddResult;
    try {
      const body: unknown = JSON.parse(raw.toString("utf8"));
      if (signal === "traces") result = this.store.add("spans", parseTraces(body));
      else if (signal === "logs") result = this.store.add("logs", parseLogs(body));
      else result = this.store.add("metrics", parseMetrics(body));
    } catch (error) {
      read.release();
      // Whatever the body does to the parser (bad JSON, nesting, odd types) is this request's 400.
      return sendJson(res, 400, { error: `invalid OTLP JSON: ${(error as Error).message}` });
    }
    read.release();
    if (this.options.forwardOtlpTo) this.forward(signal, raw);
    this.broadcast(signal === "traces" ? "spans" : signal);
    sendJson(res, 200, partialSuccess(signal, result, this.store));
  };

  /** Copies an accepted batch to Jaeger; best effort, the built-in dashboard doesn't depend on it. */
  private forward(signal: string, body: Buffer): void {
    // Jaeger's OTLP receiver takes traces (and ignores what it doesn't store).
    if (signal !== "traces") return;
    void fetch(`${this.options.forwardOtlpTo}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(5000),
    }).catch(() => {});
  }

  // ---- resources ----

  private resourceView(): ResourceView[] {
    const app = this.app;
    if (!app) return [];
    const views: ResourceView[] = app.snapshot().map((r) => {
      const env = app.environmentOf?.(r.name);
      const view: ResourceView = {
        ...r,
        connectionString: r.connectionString?.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@"),
      };
      if (env) {
        const secrets = app.secretValues?.() ?? [];
        view.environment = Object.fromEntries(
          Object.entries(maskEnvironment(env)).map(([key, value]) => [key, maskSecrets(value, secrets)]),
        );
      }
      return view;
    });
    for (const extra of this.extras) views.push({ ...extra.snapshot(), external: true });
    for (const view of views)
      if (view.state === "Running" && view.startedAt) view.uptimeMs = Date.now() - Date.parse(view.startedAt);
    return views;
  }

  private readonly resources: Handler = (_req, res) => sendJson(res, 200, this.resourceView());

  private readonly resourceStream: Handler = (req, res) => {
    this.openStream(req, res, "resources");
    writeEvent(res, "resources", this.resourceView());
  };

  private resourceAction(res: ServerResponse, name: string, action: "start" | "stop" | "restart"): void {
    const app = this.app;
    const known = (r: ResourceSnapshot) => r.name === name || r.replicas?.some((x) => x.name === name);
    if (!app || !app.snapshot().some(known)) return sendJson(res, 404, { error: `no resource ${name}` });
    const run =
      action === "start"
        ? app.startResource(name)
        : action === "stop"
          ? app.stopResource(name)
          : app.restartResource(name);
    // Starting waits for health (seconds): answer now, the state stream shows the progress.
    run.catch((error: Error) =>
      app.logs.write(name, "apphost", `[apphost] dashboard ${action} failed: ${error.message}`),
    );
    sendJson(res, 202, { accepted: action, resource: name });
  }

  private async command(res: ServerResponse, name: string, command: string): Promise<void> {
    const app = this.app;
    if (!app?.runCommand) return sendJson(res, 404, { error: "this application has no commands" });
    try {
      const result = await app.runCommand(name, command);
      sendJson(res, 200, { ok: true, ...result });
    } catch (error) {
      const status =
        error instanceof CommandError
          ? error.status
          : /No resource named/.test((error as Error).message)
            ? 404
            : 502;
      sendJson(res, status, { ok: false, error: (error as Error).message });
    }
  }

  // ---- console logs ----

  private readonly consoleQuery: Handler = (_req, res, url) =>
    sendJson(res, 200, this.console.query(consoleFilter(url)));

  private readonly consoleStream: Handler = (req, res, url) => {
    const filter = consoleFilter(url);
    this.openStream(req, res, "console");
    const unsubscribe = this.console.onLine((line) => {
      if (matchesConsole(line, filter)) writeEvent(res, "line", line);
    });
    res.on("close", unsubscribe);
  };

  private readonly consoleDownload: Handler = (_req, res, url) => {
    const filter = consoleFilter(url);
    const lines = this.console.query({ ...filter, limit: Number.MAX_SAFE_INTEGER });
    const text = lines
      .map((l) => `${new Date(l.time).toISOString()} ${l.resource} ${l.stream} ${l.text}`)
      .join("\n");
    res
      .writeHead(200, {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Disposition": `attachment; filename="${filter.resource ?? "all-resources"}.log"`,
      })
      .end(`${text}\n`);
  };

  // ---- telemetry ----

  private readonly traceList: Handler = (_req, res, url) => {
    const q = url.searchParams;
    const minDuration = Number(q.get("minDurationMs"));
    sendJson(
      res,
      200,
      this.store.traces({
        service: q.get("service") || undefined,
        errorOnly: q.get("error") === "true",
        minDurationMs: Number.isFinite(minDuration) && minDuration > 0 ? minDuration : undefined,
        text: q.get("text") || undefined,
        limit: Number(q.get("limit")) || 200,
      }),
    );
  };

  private traceDetail(res: ServerResponse, traceId: string): void {
    const spans = this.store.trace(traceId.toLowerCase());
    if (spans.length === 0) return sendJson(res, 404, { error: `no trace ${traceId}` });
    sendJson(res, 200, {
      traceId,
      spans,
      logs: this.store.logs({ traceId: traceId.toLowerCase(), limit: 500 }),
    });
  }

  private readonly logQuery: Handler = (_req, res, url) => {
    const q = url.searchParams;
    const min = Number(q.get("minSeverity"));
    sendJson(
      res,
      200,
      this.store.logs({
        service: q.get("service") || undefined,
        minSeverity: Number.isFinite(min) && min > 0 ? min : undefined,
        text: q.get("text") || undefined,
        traceId: q.get("traceId") || undefined,
        limit: Number(q.get("limit")) || 500,
      }),
    );
  };

  private readonly metricList: Handler = (_req, res, url) =>
    sendJson(res, 200, this.store.latestMetrics(url.searchParams.get("service") || undefined));

  private readonly metricSeries: Handler = (_req, res, url) =>
    sendJson(
      res,
      200,
      this.store.metricSeries(
        url.searchParams.get("service") ?? "",
        url.searchParams.get("name") ?? "",
        2000,
        Number(url.searchParams.get("rangeMs")) > 0
          ? Date.now() - Number(url.searchParams.get("rangeMs"))
          : 0,
      ),
    );

  // ---- server-sent events ----

  private openStream(req: IncomingMessage, res: ServerResponse, topic: "resources" | "console"): void {
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
    });
    res.write("retry: 2000\n\n");
    this.streams.add(res);
    const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
    // Resource streams get a fresh snapshot on every change; console streams subscribe to lines themselves.
    const listener = (changed: string) => {
      if (topic === "resources" && changed === "resources") writeEvent(res, "resources", this.resourceView());
    };
    this.topicListeners.add(listener);
    req.on("close", () => {
      clearInterval(heartbeat);
      this.topicListeners.delete(listener);
      this.streams.delete(res);
    });
  }

  private readonly topicListeners = new Set<(topic: string) => void>();
  private pendingBroadcast = new Set<string>();

  /** Coalesces bursts (a start emits several changes) into one event per topic per tick. */
  private broadcast(topic: string): void {
    if (this.pendingBroadcast.has(topic)) return;
    this.pendingBroadcast.add(topic);
    setTimeout(() => {
      this.pendingBroadcast.delete(topic);
      for (const listener of this.topicListeners) listener(topic);
    }, 50);
  }

  private requireHosts(): DashboardHosts {
    if (!this.hosts) throw new Error("listen() has not run");
    return this.hosts;
  }

  private requireSessions(): SessionStore {
    if (!this.sessions) throw new Error("listen() has not run");
    return this.sessions;
  }
}

type ResourceView = ReturnType<ExtraResource["snapshot"]> & {
  environment?: Record<string, string>;
  uptimeMs?: number;
  /** Runs beside the model: shown, not started or stopped from here. */
  external?: boolean;
};

interface ConsoleFilter {
  resource?: string;
  text?: string;
  minLevel?: string;
  limit?: number;
}

function consoleFilter(url: URL): ConsoleFilter {
  const q = url.searchParams;
  return {
    resource: q.get("resource") || undefined,
    text: q.get("text") || undefined,
    minLevel: q.get("level") || undefined,
    limit: Number(q.get("limit")) || 2000,
  };
}

function matchesConsole(line: ConsoleLine, filter: ConsoleFilter): boolean {
  const levels = ["trace", "debug", "info", "warn", "error", "fatal"];
  const rank = (level: string) => Math.max(0, levels.indexOf(level));
  return (
    (!filter.resource || line.resource === filter.resource) &&
    (!filter.minLevel || rank(line.level) >= rank(filter.minLevel)) &&
    (!filter.text || line.text.toLowerCase().includes(filter.text.toLowerCase()))
  );
}

function bind(
  host: string,
  port: number,
  handler: http.RequestListener,
  limits: Pick<DashboardOptions, "requestTimeoutMs" | "headersTimeoutMs">,
): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const server = http.createServer(
      {
        // A client that trickles its headers or body cannot hold a connection for long; streams
        // (server-sent events) are responses and are not limited by these.
        headersTimeout: limits.headersTimeoutMs ?? 10_000,
        requestTimeout: limits.requestTimeoutMs ?? 30_000,
        maxHeaderSize: 16 * 1024,
        // Node checks those timeouts every 30 s by default, too coarse for them to mean much.
        connectionsCheckingInterval: 1000,
      },
      handler,
    );
    server.maxConnections = 512;
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/**
 * OTLP's answer to a batch: empty when everything was kept; partialSuccess with the number of
 * rejected records (services beyond the store's cap) otherwise, as the OTLP spec defines it.
 */
function partialSuccess(signal: string, result: AddResult, store: TelemetryStore): Record<string, unknown> {
  if (result.rejected === 0) return {};
  const field =
    signal === "traces" ? "rejectedSpans" : signal === "logs" ? "rejectedLogRecords" : "rejectedDataPoints";
  return {
    partialSuccess: {
      [field]: String(result.rejected),
      errorMessage: `the dashboard keeps telemetry of at most ${store.maxServices} services`,
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
  res.end(JSON.stringify(body));
}

function writeEvent(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

const notAllowed: Handler = (_req, res) => sendJson(res, 405, { error: "method not allowed" });

/**
 * The request body, up to `limit` bytes; beyond it a 413. The rest of an oversized body is read and
 * dropped rather than the socket destroyed: a client still sending would otherwise see a reset
 * instead of the 413 (the request timeout bounds how long that takes).
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new RequestError(413, `body larger than ${limit} bytes`);
    const declared = Number(req.headers["content-length"]);
    let chunks: Buffer[] | undefined = [];
    let size = 0;
    const refuse = () => {
      chunks = undefined;
      reject(tooLarge());
    };
    if (Number.isFinite(declared) && declared > limit) refuse();
    req.on("data", (chunk: Buffer) => {
      if (chunks === undefined) return;
      size += chunk.length;
      if (size > limit) refuse();
      else chunks.push(chunk);
    });
    req.on("end", () => {
      if (chunks !== undefined) resolve(Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}

/** A request the dashboard refuses (malformed, too large): answered with its status, not logged. */
class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function requestUrl(raw: string | undefined): URL {
  try {
    return new URL(raw ?? "/", "http://dashboard");
  } catch {
    throw new RequestError(400, "malformed request URL");
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RequestError(400, "malformed percent-encoding in the path");
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
