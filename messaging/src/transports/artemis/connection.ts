import { EventEmitter } from "node:events";
import rhea from "rhea";
import type { Connection, ConnectionOptions, Container, EventContext } from "rhea";
import { redactUrl, type HealthCheck, type Logger } from "@outbox/service-defaults";

export interface AmqpConnectionOptions {
  /** `amqp://user:pass@host:port` (or `amqps://`); user and password may be URL-encoded. */
  url: string;
  containerId: string;
  logger: Logger;
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Advertised AMQP idle timeout; a silent peer is dropped after twice this. Default 20 s. */
  idleTimeoutMs?: number;
  /** How long close() waits for the broker to confirm. Default 5 s. */
  closeTimeoutMs?: number;
}

export interface AmqpEndpoint {
  transport: "tcp" | "tls";
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
}

/** Splits an AMQP URL into what rhea's connect options need. */
export function parseAmqpUrl(url: string): AmqpEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`Invalid AMQP URL: ${redactUrl(url)}`);
  }
  const tls = parsed.protocol === "amqps:";
  if (!tls && parsed.protocol !== "amqp:") throw new Error(`Unsupported AMQP URL scheme: ${parsed.protocol}`);
  return {
    transport: tls ? "tls" : "tcp",
    // WHATWG URL keeps IPv6 literals bracketed; sockets want them bare.
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: parsed.port === "" ? (tls ? 5671 : 5672) : Number(parsed.port),
    username: parsed.username === "" ? undefined : decodeURIComponent(parsed.username),
    password: parsed.password === "" ? undefined : decodeURIComponent(parsed.password),
  };
}

/** rhea internals close() needs; not part of its typings. */
interface RheaConnectionInternals {
  set_reconnect(reconnect: boolean): void;
  scheduled_reconnect?: NodeJS.Timeout;
  socket?: { destroy(error?: Error): void };
}

/** Warn about an unreachable broker at most this often; the attempts in between log at debug. */
const UNREACHABLE_WARN_INTERVAL_MS = 60_000;

/**
 * One rhea connection per service, with the state a health check and a relay need. rhea reconnects
 * on its own (capped exponential backoff) and re-attaches links; this class tracks whether the
 * connection is up, remembers the last error, and turns rhea's events into "connected" /
 * "disconnected" transitions. Links are opened on `connection` by the caller.
 */
export class AmqpConnection {
  readonly connection: Connection;
  readonly container: Container;
  private readonly logger: Logger;
  private readonly endpoint: AmqpEndpoint;
  private readonly closeTimeoutMs: number;
  private readonly events = new EventEmitter();
  private connected = false;
  private opened = false;
  private closing: Promise<void> | undefined;
  private error: string | undefined;
  private everConnected = false;
  private lastUnreachableWarn = 0;
  private failedAttempts = 0;

  constructor(opts: AmqpConnectionOptions) {
    this.endpoint = parseAmqpUrl(opts.url);
    this.logger = opts.logger.child({
      component: "amqp",
      broker: `${this.endpoint.host}:${this.endpoint.port}`,
    });
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5_000;
    this.container = rhea.create_container({ id: opts.containerId });
    // rhea re-emits unhandled link/session errors as 'error' on the container: without a listener
    // that would throw and crash the process.
    this.container.on("error", (error: unknown) => {
      this.logger.error({ err: error }, "AMQP error not handled by any link");
    });
    const common = {
      host: this.endpoint.host,
      port: this.endpoint.port,
      reconnect: true,
      initial_reconnect_delay: opts.reconnect?.initialDelayMs ?? 100,
      max_reconnect_delay: opts.reconnect?.maxDelayMs ?? 5_000,
      idle_time_out: opts.idleTimeoutMs ?? 20_000,
      // A broker closing the connection with any error (restart, failover, resource limits) is
      // something to ride out, not a reason to stop reconnecting.
      all_errors_non_fatal: true,
      ...(this.endpoint.username !== undefined ? { username: this.endpoint.username } : {}),
      ...(this.endpoint.password !== undefined ? { password: this.endpoint.password } : {}),
    };
    const options: ConnectionOptions =
      this.endpoint.transport === "tls" ? { ...common, transport: "tls" } : { ...common, transport: "tcp" };
    this.connection = this.container.create_connection(options);
    this.attachListeners();
  }

  /** Starts connecting (and reconnecting) in the background; attach handlers and links first or after. */
  open(): void {
    if (this.opened || this.closing !== undefined) return;
    this.opened = true;
    this.logger.debug("AMQP connecting");
    this.connection.connect();
  }

  isConnected(): boolean {
    return this.connected;
  }

  lastError(): string | undefined {
    return this.error;
  }

  healthCheck(): HealthCheck {
    return () => {
      const data = {
        broker: `${this.endpoint.host}:${this.endpoint.port}`,
        failedAttempts: this.failedAttempts,
      };
      if (this.connected) return { status: "healthy", data };
      const reason =
        this.closing !== undefined ? "closed" : !this.opened ? "not opened" : (this.error ?? "connecting");
      return { status: "unhealthy", detail: `broker not connected: ${reason}`, data };
    };
  }

  on(event: "connected" | "disconnected", fn: () => void): this {
    this.events.on(event, fn);
    return this;
  }

  off(event: "connected" | "disconnected", fn: () => void): this {
    this.events.off(event, fn);
    return this;
  }

  /** Closes the connection (and with it every link); no reconnect afterwards. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const internals = this.connection as unknown as RheaConnectionInternals;
    internals.set_reconnect(false);
    if (internals.scheduled_reconnect !== undefined) {
      clearTimeout(internals.scheduled_reconnect);
      internals.scheduled_reconnect = undefined;
    }
    if (!this.opened) return;
    if (!this.connected) {
      // Nothing to say goodbye to; drop a connect attempt that may still be under way.
      internals.socket?.destroy();
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.connection.off("connection_close", done);
        this.connection.off("disconnected", done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.logger.warn(
          { timeoutMs: this.closeTimeoutMs },
          "AMQP close not confirmed in time; dropping the socket",
        );
        // Destroying with an error lets rhea run its own disconnect path (clears heartbeat timers).
        internals.socket?.destroy(new Error("AMQP close timed out"));
        done();
      }, this.closeTimeoutMs);
      this.connection.on("connection_close", done);
      this.connection.on("disconnected", done);
      this.connection.close();
    });
    this.connected = false;
    this.logger.info("AMQP connection closed");
  }

  private attachListeners(): void {
    const conn = this.connection;
    conn.on("connection_open", () => {
      this.connected = true;
      this.error = undefined;
      this.logger.info(
        { reconnected: this.everConnected, failedAttempts: this.failedAttempts },
        this.everConnected ? "AMQP reconnected" : "AMQP connected",
      );
      this.everConnected = true;
      this.failedAttempts = 0;
      this.lastUnreachableWarn = 0;
      this.events.emit("connected");
    });
    conn.on("connection_error", (ctx: EventContext) => {
      this.error = describeError(ctx.error ?? conn.error);
      this.logger.warn({ error: this.error }, "AMQP connection error from broker");
    });
    conn.on("connection_close", (ctx: EventContext) => {
      if (ctx.error !== undefined) this.error = describeError(ctx.error);
      this.markDown();
    });
    conn.on("disconnected", (ctx: EventContext) => {
      if (this.closing !== undefined) return;
      if (ctx.error !== undefined) this.error = describeError(ctx.error);
      this.error ??= "disconnected";
      const wasConnected = this.connected;
      this.markDown();
      if (ctx.reconnecting !== true) {
        // rhea gives up for good on authentication (SASL) failures.
        this.logger.error({ error: this.error }, "AMQP connection lost and rhea will not reconnect");
      } else if (!wasConnected) {
        this.failedAttempts += 1;
        this.logUnreachable();
      }
    });
    conn.on("protocol_error", (error: unknown) => {
      this.error = describeError(error);
      this.logger.error({ error: this.error }, "AMQP protocol error");
    });
    conn.on("error", (error: unknown) => {
      this.error = describeError(error);
      this.logger.error({ error: this.error }, "AMQP connection error");
    });
  }

  private markDown(): void {
    if (!this.connected) return;
    this.connected = false;
    if (this.closing !== undefined) return; // our own close() is not news
    this.logger.warn({ error: this.error }, "AMQP connection lost; reconnecting");
    this.events.emit("disconnected");
  }

  private logUnreachable(): void {
    const now = Date.now();
    const fields = { error: this.error, failedAttempts: this.failedAttempts };
    if (now - this.lastUnreachableWarn >= UNREACHABLE_WARN_INTERVAL_MS) {
      this.lastUnreachableWarn = now;
      this.logger.warn(fields, "AMQP broker unreachable; retrying");
    } else {
      this.logger.debug(fields, "AMQP connect attempt failed");
    }
  }
}

function describeError(error: unknown): string {
  if (error === undefined || error === null) return "unknown error";
  if (error instanceof Error) {
    const condition = (error as { condition?: unknown }).condition;
    return typeof condition === "string" && condition !== ""
      ? `${condition}: ${error.message}`
      : error.message;
  }
  if (typeof error === "object") {
    const { condition, description } = error as { condition?: unknown; description?: unknown };
    if (typeof condition === "string") {
      return typeof description === "string" && description !== ""
        ? `${condition}: ${description}`
        : condition;
    }
  }
  return typeof error === "string" ? error : (JSON.stringify(error) ?? "unknown error");
}
