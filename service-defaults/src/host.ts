import { AllowedMethods } from "./allowed-methods.js";
import { unstorableTextErrors } from "./unstorable-text.js";
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  extendZodWithOpenApi,
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
  type RouteConfig,
} from "@asteasolutions/zod-to-openapi";
import express, { type NextFunction, type Request, type Response } from "express";
import swaggerUi from "swagger-ui-express";
import { z } from "zod";
import {
  ADMIN_SECURITY_SCHEME,
  allowedHostsFromEnv,
  isAdminRoute,
  isMonitorPoll,
  requireAdminToken,
  requireAllowedHost,
  type AdminAuthOptions,
} from "./admin-auth.js";
import type { HttpMethod, RouteInput, RouteResponse, RouteSpec } from "@outbox/messaging";
import { aliveSchema, healthReportSchema, runHealthChecks, type HealthCheck } from "./health.js";
import type { Logger } from "./logging.js";
import {
  HttpProblem,
  problemBody,
  problemResponseSchema,
  sendProblem,
  validationErrors,
  type ProblemBody,
  type ValidationError,
} from "@outbox/messaging";
import { shutdownTelemetry } from "./telemetry.js";
import { watchAppHost } from "./apphost-watch.js";
import {
  databaseUnavailableProblem,
  RETRY_AFTER_UNREACHABLE_S,
  retryAfterHeader,
} from "./postgres-availability.js";

// Lets service schemas use `.openapi(...)` once service-defaults has been imported; `.meta()`
// works without it and is the safer choice in modules that may load first.
extendZodWithOpenApi(z);

export interface ServiceHostOptions {
  name: string;
  version: string;
  logger: Logger;
  port: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** JSON body size limit (bytes or "64kb"-style); default "64kb". */
  bodyLimit?: string;
  /** Upper bound for draining in-flight requests in stop(); default 10 s. */
  shutdownTimeoutMs?: number;
  /** Upper bound for each onShutdown hook; default 5 s. */
  shutdownHookTimeoutMs?: number;
  /** Upper bound for each health check; default 2 s. */
  healthCheckTimeoutMs?: number;
  /** Install SIGTERM/SIGINT handlers in start(); default true (tests turn it off). */
  handleSignals?: boolean;
  description?: string;
  /** Routes (by declared path prefix) that require `Authorization: Bearer <admin token>`. */
  admin?: AdminAuthOptions;
  /** Host header names accepted (DNS rebinding); default: localhost, the listen host, ALLOWED_HOSTS. */
  allowedHosts?: readonly string[] | "any";
  /**
   * Errors that mean a dependency (database, broker) is unreachable: answered 503, so that clients
   * retry, instead of 500; every route documents the 503.
   */
  unavailableWhen?: (error: unknown) => boolean;
}

// Route specs are @outbox/messaging's: its admin routes are specs this host registers as they are.
export type { HttpMethod, RouteInput, RouteResponse, RouteSpec };

type Location = "params" | "query" | "headers" | "body";

const PROBE_PATHS = new Set(["/health", "/alive"]);

/**
 * The Express host every service runs in: JSON body parsing with a size limit, request logging,
 * zod-validated routes that also feed the OpenAPI document, /health, /alive, /openapi.json,
 * /swagger, problem+json errors and graceful shutdown.
 */
export class ServiceHost {
  readonly app: express.Express;
  readonly logger: Logger;
  readonly registry = new OpenAPIRegistry();

  private readonly opts: ServiceHostOptions;
  private readonly checks = new Map<string, HealthCheck>();
  private readonly hooks: { name: string; close: () => Promise<void> }[] = [];
  private server: http.Server | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;
  private listenUrl: string | undefined;
  private inFlight = 0;
  private readonly allowedMethods = new AllowedMethods();
  private signalHandler: ((signal: NodeJS.Signals) => void) | undefined;
  private stopAppHostWatch: (() => void) | undefined;

  constructor(opts: ServiceHostOptions) {
    this.opts = opts;
    this.logger = opts.logger;
    this.app = express();
    this.app.disable("x-powered-by");
    this.app.use(this.trackRequest);
    this.app.use(
      requireAllowedHost(opts.allowedHosts ?? allowedHostsFromEnv(process.env, opts.host ?? "127.0.0.1")),
    );
    // Before routing: a path template with a parameter may otherwise take a method that the more
    // specific path the request names does not have.
    this.app.use(this.refuseUnallowedMethod);
  }

  /** The base URL once started. */
  get url(): string | undefined {
    return this.listenUrl;
  }

  route<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType>(
    spec: RouteSpec<P, Q, B>,
  ): this {
    // Routes added after start() would sit behind the 404 handler and never match.
    if (this.started)
      throw new Error(`route ${spec.method.toUpperCase()} ${spec.path} registered after start()`);
    const admin = this.opts.admin;
    // Decided on the declared path, so no spelling of the request URL can get around it.
    const isAdmin = admin !== undefined && isAdminRoute(spec.path, admin.routePrefixes);
    this.registry.registerPath(toRouteConfig(spec, isAdmin, this.opts.unavailableWhen !== undefined));
    this.allowedMethods.add(spec.path, spec.method);
    const request = spec.request ?? {};
    const guards = isAdmin ? [requireAdminToken(admin.tokens)] : [];
    // Only routes that take a body parse one, so only they can answer 400/413 for it (as documented).
    // strict: false lets scalars through so validation can say "expected object" with a path
    // instead of a generic parse error.
    if (request.body !== undefined)
      guards.push(express.json({ limit: this.opts.bodyLimit ?? "64kb", strict: false }));
    this.app[spec.method](spec.path, ...guards, async (req: Request, res: Response) => {
      if (request.body !== undefined && req.is("application/json") === false) {
        throw new HttpProblem(415, "Unsupported Media Type", "The request body must be application/json");
      }
      const errors: ValidationError[] = [];
      const check = (location: Location, schema: z.ZodType | undefined, value: unknown): unknown => {
        if (schema === undefined) return value;
        const result = schema.safeParse(value);
        if (result.success) return result.data;
        errors.push(...validationErrors(result.error, location));
        return undefined;
      };
      const params = check("params", request.params, req.params);
      const query = check("query", request.query, req.query);
      check("headers", request.headers, req.headers);
      const body = check("body", request.body, req.body);
      // Text PostgreSQL cannot store is a client error (400), not a database failure (500).
      if (request.body !== undefined) errors.push(...unstorableTextErrors(req.body, "body"));
      if (request.query !== undefined) errors.push(...unstorableTextErrors(req.query, "query"));
      if (request.params !== undefined) errors.push(...unstorableTextErrors(req.params, "params"));
      if (errors.length > 0) {
        throw new HttpProblem(400, "Validation failed", "One or more fields are invalid", { errors });
      }
      await spec.handler({
        params: params as z.infer<P>,
        query: query as z.infer<Q>,
        body: body as z.infer<B>,
        req,
        res,
      });
    });
    return this;
  }

  addHealthCheck(name: string, check: HealthCheck): this {
    this.checks.set(name, check);
    return this;
  }

  /** Hooks run in reverse registration order once the HTTP server has drained. */
  onShutdown(name: string, close: () => Promise<void>): this {
    this.hooks.push({ name, close });
    return this;
  }

  async start(): Promise<{ url: string }> {
    if (this.started) throw new Error("ServiceHost already started");
    this.started = true;
    this.mountBuiltins();
    const server = http.createServer(this.app);
    const host = this.opts.host ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.listenUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    if (this.opts.handleSignals !== false) {
      this.installSignalHandlers();
      this.stopAppHostWatch = watchAppHost({
        apphostPid: process.env.APPHOST_PID,
        onGone: () => {
          if (this.stopping !== undefined) return;
          this.logger.warn("the AppHost that started this service is gone; stopping");
          this.stopAndExit();
        },
      });
    }
    if (this.opts.admin !== undefined && this.opts.admin.tokens.length === 0)
      this.logger.warn("no ADMIN_TOKEN configured: the admin API refuses every call");
    this.logger.info({ url: this.listenUrl, version: this.opts.version }, `${this.opts.name} listening`);
    return { url: this.listenUrl };
  }

  /** Idempotent: stop accepting, drain (bounded), run hooks in reverse, flush telemetry. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const began = performance.now();
    this.stopAppHostWatch?.();
    this.logger.info({ inFlight: this.inFlight }, "shutting down");
    const server = this.server;
    if (server !== undefined) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive sockets would otherwise hold close() open until they time out.
      server.closeIdleConnections();
      const timeoutMs = this.opts.shutdownTimeoutMs ?? 10_000;
      const outcome = await settleWithin(closed, timeoutMs);
      if (outcome === "timeout") {
        this.logger.warn(
          { inFlight: this.inFlight, timeoutMs },
          "requests still running at shutdown deadline; closing connections",
        );
        server.closeAllConnections();
        await closed;
      }
    }
    const hookTimeoutMs = this.opts.shutdownHookTimeoutMs ?? 5_000;
    for (const hook of [...this.hooks].reverse()) {
      const outcome = await settleWithin(Promise.resolve().then(hook.close), hookTimeoutMs);
      if (outcome === "timeout") {
        this.logger.warn({ hook: hook.name, timeoutMs: hookTimeoutMs }, "shutdown hook timed out");
      } else if (outcome !== "done") {
        this.logger.error({ hook: hook.name, err: outcome.error }, "shutdown hook failed");
      } else {
        this.logger.debug({ hook: hook.name }, "shutdown hook done");
      }
    }
    await shutdownTelemetry().catch((error: unknown) =>
      this.logger.warn({ err: error }, "telemetry shutdown failed"),
    );
    // Kept until now so that a second signal during shutdown forces an exit (see the handler).
    this.removeSignalHandlers();
    this.logger.info({ durationMs: Math.round(performance.now() - began) }, `${this.opts.name} stopped`);
  }

  private stopAndExit(): void {
    this.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        this.logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  }

  private installSignalHandlers(): void {
    const handler = (signal: NodeJS.Signals): void => {
      if (this.stopping !== undefined) {
        this.logger.warn({ signal }, "second signal during shutdown; exiting now");
        process.exit(1);
      }
      this.logger.info({ signal }, "signal received; stopping");
      this.stopAndExit();
    };
    this.signalHandler = handler;
    process.on("SIGTERM", handler);
    process.on("SIGINT", handler);
  }

  private removeSignalHandlers(): void {
    const handler = this.signalHandler;
    if (handler === undefined) return;
    this.signalHandler = undefined;
    process.off("SIGTERM", handler);
    process.off("SIGINT", handler);
  }

  /** Counts in-flight requests (for shutdown) and writes one log line per request. */
  private readonly trackRequest = (req: Request, res: Response, next: NextFunction): void => {
    const began = performance.now();
    this.inFlight += 1;
    // Requests arriving on a kept-alive socket during shutdown are served, then the socket closes.
    if (this.stopping !== undefined) res.setHeader("Connection", "close");
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      this.inFlight -= 1;
      const path = req.originalUrl.split("?")[0] ?? req.originalUrl;
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const fields = {
        method: req.method,
        path,
        ...(typeof route === "string" ? { route: req.baseUrl + route } : {}),
        status: res.statusCode,
        durationMs: Math.round((performance.now() - began) * 10) / 10,
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      // Probes and the AppHost dashboard's periodic polls would bury real traffic at info level.
      if (PROBE_PATHS.has(path) || isMonitorPoll(req, this.opts.admin?.tokens ?? []))
        this.logger.debug(fields, "request");
      else this.logger.info(fields, "request");
      if (this.stopping !== undefined) setImmediate(() => this.server?.closeIdleConnections());
    };
    res.once("finish", done);
    res.once("close", done);
    next();
  };

  /** 405 with `Allow` for a method the most specific matching path does not answer. */
  private readonly refuseUnallowedMethod = (req: Request, res: Response, next: NextFunction): void => {
    const allowed = this.allowedMethods.allowed(req.path);
    if (allowed === undefined || allowed.includes(req.method)) return next();
    res.set("Allow", allowed.join(", "));
    sendProblem(
      res,
      problemBody(405, "Method Not Allowed", {
        detail: `${req.path} answers ${allowed.join(", ")}, not ${req.method}`,
        instance: req.path,
      }),
    );
  };

  private mountBuiltins(): void {
    const app = this.app;
    const timeoutMs = this.opts.healthCheckTimeoutMs ?? 2_000;

    app.get("/health", async (_req, res) => {
      const report = await runHealthChecks(this.checks, timeoutMs);
      res.setHeader("Cache-Control", "no-store");
      res.status(report.status === "unhealthy" ? 503 : 200).json(report);
    });
    app.get("/alive", (_req, res) => {
      res.setHeader("Cache-Control", "no-store");
      res.json({ status: "alive" });
    });
    this.registry.registerPath({
      method: "get",
      path: "/health",
      summary: "Readiness: runs every registered health check",
      tags: ["health"],
      operationId: "getHealth",
      responses: {
        200: {
          description: "Healthy or degraded",
          content: { "application/json": { schema: healthReportSchema } },
        },
        503: {
          description: "At least one check is unhealthy",
          content: { "application/json": { schema: healthReportSchema } },
        },
      },
    });
    this.registry.registerPath({
      method: "get",
      path: "/alive",
      summary: "Liveness: answers while the event loop runs",
      tags: ["health"],
      operationId: "getAlive",
      responses: { 200: { description: "Alive", content: { "application/json": { schema: aliveSchema } } } },
    });

    if (this.opts.admin !== undefined)
      this.registry.registerComponent("securitySchemes", ADMIN_SECURITY_SCHEME, {
        type: "http",
        scheme: "bearer",
        description: "The service's admin token (ADMIN_TOKEN; the AppHost generates and injects it)",
      });
    const document = new OpenApiGeneratorV31(this.registry.definitions).generateDocument({
      openapi: "3.1.0",
      info: {
        title: this.opts.name,
        version: this.opts.version,
        ...(this.opts.description !== undefined ? { description: this.opts.description } : {}),
      },
    });
    app.get("/openapi.json", (_req, res) => {
      res.json(document);
    });

    // Swagger UI's page loads its assets by relative URL, so it must be served as "/swagger/".
    app.use("/swagger", (req, res, next) => {
      const [path = "", query] = req.originalUrl.split("?");
      if (path === "/swagger") res.redirect(301, `/swagger/${query !== undefined ? `?${query}` : ""}`);
      else next();
    });
    // serveFiles keeps the document per host (swaggerUi.serve shares one module-global document).
    app.use("/swagger", ...swaggerUi.serveFiles(document, {}));
    app.get("/swagger/", swaggerUi.setup(document, { customSiteTitle: `${this.opts.name} API` }));

    for (const path of ["/health", "/alive", "/openapi.json"]) this.allowedMethods.add(path, "get");
    app.use((req, res) => {
      sendProblem(
        res,
        problemBody(404, "Not Found", {
          detail: `No route for ${req.method} ${req.path}`,
          instance: req.path,
        }),
      );
    });
    app.use(this.errorHandler);
  }

  private readonly errorHandler = (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      // Too late for a problem body; Express's default handler closes the connection.
      this.logger.error({ err: error, method: req.method, path: req.path }, "error after response started");
      next(error);
      return;
    }
    const problem = this.toProblem(error, req);
    if (error instanceof HttpProblem) res.set(error.headers);
    // A dependency outage (toProblem's generic 503) gets the same retry hint as a route's own 503.
    else if (problem.status === 503)
      res.set(
        databaseUnavailableProblem(error)?.headers ?? { "Retry-After": String(RETRY_AFTER_UNREACHABLE_S) },
      );
    sendProblem(res, problem);
  };

  private toProblem(error: unknown, req: Request): ProblemBody {
    const instance = req.path;
    if (error instanceof HttpProblem) {
      if (error.status >= 500)
        this.logger.error({ err: error, method: req.method, path: instance }, "request failed");
      return error.toBody(instance);
    }
    const clientError = asClientError(error);
    if (clientError !== undefined) {
      const { status, type, message, expose } = clientError;
      if (type === "entity.parse.failed")
        return problemBody(400, "Malformed JSON", { detail: message, instance });
      if (type === "entity.too.large") {
        const limit = this.opts.bodyLimit ?? "64kb";
        return problemBody(413, "Payload Too Large", {
          detail: `The request body exceeds ${limit}`,
          instance,
        });
      }
      return problemBody(status, http.STATUS_CODES[status] ?? "Bad Request", {
        detail: expose ? message : undefined,
        instance,
      });
    }
    if (this.opts.unavailableWhen?.(error) === true) {
      this.logger.warn({ err: error, method: req.method, path: instance }, "dependency unavailable");
      return problemBody(503, "Service Unavailable", {
        // A busy pool is not an outage: say which, so that nobody chases a network problem.
        detail:
          databaseUnavailableProblem(error)?.detail ??
          "A dependency of this service is unreachable; retry later",
        instance,
      });
    }
    // Unknown failures are logged in full but never described to the caller.
    this.logger.error({ err: error, method: req.method, path: instance }, "unhandled error");
    return problemBody(500, "Internal Server Error", {
      detail: "An unexpected error occurred; it has been logged.",
      instance,
    });
  }
}

/** Errors from body-parser / http-errors carry a 4xx status (and `type`, `expose`). */
function asClientError(
  error: unknown,
): { status: number; type: string | undefined; message: string; expose: boolean } | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as {
    status?: unknown;
    statusCode?: unknown;
    type?: unknown;
    message?: unknown;
    expose?: unknown;
  };
  const status = typeof e.status === "number" ? e.status : e.statusCode;
  if (typeof status !== "number" || status < 400 || status > 499) return undefined;
  return {
    status,
    type: typeof e.type === "string" ? e.type : undefined,
    message: typeof e.message === "string" ? e.message : "",
    expose: e.expose === true,
  };
}

/** Waits for a promise up to `ms`; never rejects (a late rejection is swallowed, not unhandled). */
async function settleWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<"done" | "timeout" | { error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => "done" as const,
        (error: unknown) => ({ error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** "/a/:id/b/:other" -> "/a/{id}/b/{other}" */
export function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

function toRouteConfig(
  spec: RouteSpec<z.ZodType, z.ZodType, z.ZodType>,
  admin: boolean,
  mayBeUnavailable: boolean,
): RouteConfig {
  const request: NonNullable<RouteConfig["request"]> = {};
  const { params, query, body, headers } = spec.request ?? {};
  if (params instanceof z.ZodObject || params instanceof z.ZodPipe) request.params = params;
  if (query instanceof z.ZodObject || query instanceof z.ZodPipe) request.query = query;
  if (headers !== undefined) request.headers = headers;
  if (body !== undefined)
    request.body = { required: true, content: { "application/json": { schema: body } } };

  const responses: Record<string, ResponseConfig> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] = toResponseConfig(Number(status), response);
  }
  const validates =
    params !== undefined || query !== undefined || body !== undefined || headers !== undefined;
  if (validates && responses["400"] === undefined) {
    responses["400"] = toResponseConfig(400, {
      description: "Invalid request",
      schema: problemResponseSchema,
    });
  }
  if (admin)
    responses["401"] ??= toResponseConfig(401, {
      description: "Missing or wrong admin bearer token",
      schema: problemResponseSchema,
    });
  if (body !== undefined) {
    responses["413"] ??= toResponseConfig(413, {
      description: "The body exceeds the size limit",
      schema: problemResponseSchema,
    });
    responses["415"] ??= toResponseConfig(415, {
      description: "The body is not application/json",
      schema: problemResponseSchema,
    });
  }
  if (mayBeUnavailable)
    responses["503"] ??= toResponseConfig(503, {
      description: "A dependency (database or broker) is unreachable or busy; retry later",
      schema: problemResponseSchema,
      headers: retryAfterHeader,
    });
  responses["500"] ??= toResponseConfig(500, {
    description: "Unexpected error",
    schema: problemResponseSchema,
  });

  return {
    method: spec.method,
    path: toOpenApiPath(spec.path),
    summary: spec.summary,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    ...(spec.tags !== undefined ? { tags: spec.tags } : {}),
    ...(spec.operationId !== undefined ? { operationId: spec.operationId } : {}),
    request,
    responses,
    ...(admin ? { security: [{ [ADMIN_SECURITY_SCHEME]: [] }] } : {}),
  };
}

function toResponseConfig(status: number, response: RouteResponse): ResponseConfig {
  const config: ResponseConfig = { description: response.description };
  if (response.schema !== undefined) {
    const contentType = status >= 400 ? "application/problem+json" : "application/json";
    config.content = { [contentType]: { schema: response.schema } };
  }
  if (response.headers !== undefined) {
    config.headers = z.object(
      Object.fromEntries(
        Object.entries(response.headers).map(([name, header]) => {
          const schema = z.string().meta({
            description: typeof header === "string" ? header : header.description,
          });
          return [name, typeof header === "string" ? schema : schema.optional()];
        }),
      ),
    );
  }
  return config;
}
