import type { IncomingMessage } from "node:http";
import { safeEqual } from "./auth.js";

/**
 * Tools (the CLI verbs, the MCP server) call the dashboard API on 127.0.0.1 with the tool token as
 * a bearer token, read from the 0600 control file in the state directory, so a tool can do exactly
 * what a logged-in user can. Browsers never send this header on their own, so these requests need
 * no cross-site (CSRF) check.
 */
export function hasBearerToken(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization;
  if (typeof header !== "string" || !header.startsWith("Bearer ")) return false;
  return safeEqual(header.slice("Bearer ".length).trim(), token);
}
