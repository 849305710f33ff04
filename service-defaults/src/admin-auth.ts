import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import type { NextFunction, Request, Response } from "express";
import { ConfigError } from "./config.js";
import { problemBody, sendProblem } from "@outbox/messaging";

/** Name of the bearer scheme in the OpenAPI document (what Swagger UI's "Authorize" fills in). */
export const ADMIN_SECURITY_SCHEME = "adminBearer";

/** Shorter tokens are refused at start-up: they could be guessed. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

export interface AdminAuthOptions {
  /** Routes whose declared path starts with one of these require the admin token. */
  routePrefixes: readonly string[];
  /** Accepted tokens (several during a rotation); none = every admin call is refused. */
  tokens: readonly string[];
}

/**
 * The admin tokens a service accepts: `ADMIN_TOKEN`, plus `ADMIN_TOKENS` (comma-separated) so a
 * token can be rotated without downtime. Tokens shorter than 16 characters fail start-up.
 */
export function adminTokensFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const tokens = [env.ADMIN_TOKEN ?? "", ...(env.ADMIN_TOKENS ?? "").split(",")]
    .map((t) => t.trim())
    .filter((t) => t !== "");
  const short = tokens.filter((t) => t.length < MIN_ADMIN_TOKEN_LENGTH).length;
  if (short > 0)
    throw new ConfigError(
      `Invalid configuration: ADMIN_TOKEN/ADMIN_TOKENS: ${short} token(s) shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters`,
    );
  return tokens;
}

/**
 * Whether `presented` is one of `tokens`, in time that depends on neither the tokens' contents nor
 * their lengths (both sides are hashed to 32 bytes first) nor on which one matched.
 */
export function tokenMatches(presented: string | undefined, tokens: readonly string[]): boolean {
  if (presented === undefined) return false;
  const digest = sha256(presented);
  let matched = false;
  for (const token of tokens) matched = timingSafeEqual(digest, sha256(token)) || matched;
  return matched;
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(req: Pick<Request, "headers">): string | undefined {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return match?.[1];
}

/** Header the AppHost dashboard's periodic polls carry, so they stay out of traces and info logs. */
export const MONITOR_HEADER = "x-apphost-monitor";

/**
 * Whether a request is the AppHost's monitor poll: the header AND the service's admin token (which
 * only the AppHost holds). The header alone would let any client hide its requests.
 */
export function isMonitorPoll(req: Pick<Request, "headers">, tokens: readonly string[]): boolean {
  return (
    req.headers[MONITOR_HEADER] !== undefined && tokens.length > 0 && tokenMatches(bearerToken(req), tokens)
  );
}

/** The admin tokens for deciding on monitor polls: a bad ADMIN_TOKEN fails start-up elsewhere, not here. */
export function monitorTokensFromEnv(env: NodeJS.ProcessEnv): string[] {
  try {
    return adminTokensFromEnv(env);
  } catch {
    return [];
  }
}

export function isAdminRoute(path: string, prefixes: readonly string[]): boolean {
  const lower = path.toLowerCase();
  return prefixes.some((prefix) => {
    const p = prefix.toLowerCase().replace(/\/+$/, "");
    return lower === p || lower.startsWith(`${p}/`);
  });
}

/** Answers 401 problem+json unless the request carries one of the tokens. */
export function requireAdminToken(tokens: readonly string[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (tokenMatches(bearerToken(req), tokens)) return next();
    res.setHeader("WWW-Authenticate", 'Bearer realm="admin"');
    sendProblem(
      res,
      problemBody(401, "Unauthorized", {
        detail:
          tokens.length === 0
            ? "The admin API is disabled: no ADMIN_TOKEN is configured"
            : "This admin route requires 'Authorization: Bearer <ADMIN_TOKEN>'",
        instance: req.path,
      }),
    );
  };
}

/**
 * Host names a service answers to, against DNS rebinding (a web page whose domain suddenly
 * resolves to 127.0.0.1 would otherwise read and call the service as same-origin). IP literals
 * are always accepted: a page reached by IP is not a rebinding, and Kubernetes probes send the
 * pod IP. Names: `localhost`, the listen host, and `ALLOWED_HOSTS` (comma-separated; `*` = any).
 */
export function allowedHostsFromEnv(env: NodeJS.ProcessEnv, listenHost: string): readonly string[] | "any" {
  const configured = (env.ALLOWED_HOSTS ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "");
  if (configured.includes("*")) return "any";
  return ["localhost", listenHost.toLowerCase(), ...configured];
}

export function hostAllowed(hostHeader: string | undefined, allowed: readonly string[] | "any"): boolean {
  if (allowed === "any") return true;
  if (hostHeader === undefined) return false;
  const name = hostName(hostHeader.trim().toLowerCase());
  if (name === undefined) return false;
  if (isIP(name) !== 0) return true;
  return allowed.includes(name.replace(/\.$/, ""));
}

/** "name:port" -> "name", "[::1]:port" -> "::1"; undefined for a malformed value. */
function hostName(host: string): string | undefined {
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end > 0 ? host.slice(1, end) : undefined;
  }
  const [name = "", port, ...rest] = host.split(":");
  if (rest.length > 0 || name === "" || (port !== undefined && !/^\d{1,5}$/.test(port))) return undefined;
  return name;
}

export function requireAllowedHost(allowed: readonly string[] | "any") {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (hostAllowed(req.headers.host, allowed)) return next();
    sendProblem(
      res,
      problemBody(403, "Forbidden", {
        detail: "Host header not allowed (add the name to ALLOWED_HOSTS)",
        instance: req.path,
      }),
    );
  };
}
