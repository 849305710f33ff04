import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** Header the services' OTLP exporters send (injected as OTEL_EXPORTER_OTLP_HEADERS). */
export const OTLP_API_KEY_HEADER = "x-otlp-api-key";

export interface DashboardSecrets {
  /** Login token printed on the console: works once (see LoginToken), then a new one is printed. */
  loginToken: string;
  /** Key every OTLP request must carry. */
  otlpApiKey: string;
  /**
   * Bearer token for tools (CLI verbs, MCP server), stored only in the 0600 control file. Separate
   * from the login token, which works once and would otherwise stay valid as a bearer token.
   */
  toolToken: string;
}

export function generateSecrets(): DashboardSecrets {
  return {
    loginToken: randomBytes(24).toString("hex"),
    otlpApiKey: randomBytes(24).toString("hex"),
    toolToken: randomBytes(24).toString("hex"),
  };
}

export function safeEqual(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const index = part.indexOf("=");
    if (index <= 0) continue;
    const name = part.slice(0, index).trim();
    try {
      cookies[name] = decodeURIComponent(part.slice(index + 1).trim());
    } catch {
      // A malformed cookie of someone else's: ignore it.
    }
  }
  return cookies;
}

/**
 * The console's login token works once: exchanging it for a session replaces it with a new one
 * (announced through `onRotate`, which prints the new link), so a link that leaked from a
 * browser's history or a screen share is worthless once used.
 */
export class LoginToken {
  constructor(
    private current: string,
    private readonly onRotate: (token: string) => void = () => {},
  ) {}

  get value(): string {
    return this.current;
  }

  /** True (and the token is replaced) when `presented` is the current token. */
  consume(presented: string | undefined): boolean {
    if (!safeEqual(presented, this.current)) return false;
    this.current = randomBytes(24).toString("hex");
    this.onRotate(this.current);
    return true;
  }
}

export interface SessionLimits {
  /** A session unused this long is gone (default 1 hour). */
  idleMs?: number;
  /** Sessions kept at once; creating one more ends the least recently used (default 16). */
  maxSessions?: number;
  now?: () => number;
}

/**
 * Browser sessions: the login token is exchanged for a random session id in an HttpOnly,
 * SameSite=Strict, host-only cookie for the dashboard's own `*.localhost` name (see
 * dashboard-hosts.ts). Sessions expire when idle and their number is capped. The cookie name
 * carries the port as well, which costs nothing and keeps two AppHosts' cookies apart in tools.
 */
export class SessionStore {
  /** Session id -> last use; Map order = least recently used first. */
  private readonly sessions = new Map<string, number>();
  readonly cookieName: string;
  private readonly idleMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(port: number, limits: SessionLimits = {}) {
    this.cookieName = `apphost_session_${port}`;
    this.idleMs = limits.idleMs ?? 60 * 60 * 1000;
    this.maxSessions = Math.max(1, limits.maxSessions ?? 16);
    this.now = limits.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  create(): string {
    const id = randomBytes(32).toString("hex");
    while (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    this.sessions.set(id, this.now());
    return id;
  }

  cookieFor(id: string): string {
    return `${this.cookieName}=${id}; HttpOnly; SameSite=Strict; Path=/`;
  }

  clearingCookie(): string {
    return `${this.cookieName}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  /** The session id of an authenticated request, if any. */
  sessionOf(req: IncomingMessage): string | undefined {
    const id = parseCookies(req.headers.cookie)[this.cookieName];
    if (id === undefined) return undefined;
    const lastUsed = this.sessions.get(id);
    if (lastUsed === undefined) return undefined;
    this.sessions.delete(id);
    if (this.now() - lastUsed > this.idleMs) return undefined;
    // Re-inserted: the Map stays ordered by last use.
    this.sessions.set(id, this.now());
    return id;
  }

  end(id: string): void {
    this.sessions.delete(id);
  }
}

/**
 * CSRF defence for state-changing requests, on top of the SameSite cookie: the browser's Origin
 * (or, failing that, Sec-Fetch-Site) must say the request came from the dashboard's own pages.
 */
export function isSameOrigin(req: IncomingMessage): boolean {
  const host = req.headers.host;
  const origin = req.headers.origin;
  if (origin !== undefined) return host !== undefined && origin === `http://${host}`;
  return req.headers["sec-fetch-site"] === "same-origin";
}
