import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** Header the services' OTLP exporters send (injected as OTEL_EXPORTER_OTLP_HEADERS). */
export const OTLP_API_KEY_HEADER = "x-otlp-api-key";

export interface DashboardSecrets {
  /** One-time-ish login token printed on the console (valid for the AppHost's lifetime). */
  loginToken: string;
  /** Key every OTLP request must carry. */
  otlpApiKey: string;
}

export function generateSecrets(): DashboardSecrets {
  return { loginToken: randomBytes(24).toString("hex"), otlpApiKey: randomBytes(24).toString("hex") };
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
 * Browser sessions: the login token is exchanged for a random session id in an HttpOnly,
 * SameSite=Strict cookie. The cookie name carries the port because cookies are not isolated by
 * port and two AppHosts on one machine must not log each other out.
 */
export class SessionStore {
  private readonly sessions = new Set<string>();
  readonly cookieName: string;

  constructor(port: number) {
    this.cookieName = `apphost_session_${port}`;
  }

  create(): string {
    const id = randomBytes(32).toString("hex");
    this.sessions.add(id);
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
    return id !== undefined && this.sessions.has(id) ? id : undefined;
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
