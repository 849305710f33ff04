import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * How a request reached the dashboard, judged from its Host header:
 * - `browser`: the dashboard's own name, `apphost-<port>-<label>.localhost:<port>`. Browsers
 *   resolve every `*.localhost` to loopback, and the session cookie is host-only for this name, so
 *   it is never sent to `127.0.0.1:<service port>` or `localhost:<service port>`. Cookies ignore
 *   ports, though: a service's page could send the browser to `<this name>:<its own port>` and be
 *   handed the cookie. The random label, never given to services, is what stops that guess.
 * - `machine`: `127.0.0.1:<port>`, for clients that carry their own secret and no cookie: the
 *   services' OTLP exporters (API key; Node and other runtimes do not resolve `*.localhost`) and
 *   the CLI and MCP tools (bearer token from the 0600 control file). A browser cannot add either
 *   header to a cross-origin request without a CORS preflight, which the dashboard never grants.
 * Anything else (another name, DNS rebinding, `localhost:<port>`) is refused before any session
 * lookup.
 */
export type HostAudience = "browser" | "machine";

export class DashboardHosts {
  /** `apphost-<port>-<label>.localhost:<port>` */
  readonly browserHost: string;
  /** `<bind address>:<port>` */
  readonly machineHost: string;

  constructor(
    readonly port: number,
    bindAddress: string,
    label: string = randomBytes(8).toString("hex"),
  ) {
    if (!/^[0-9a-z]{8,40}$/.test(label))
      throw new Error(`dashboard host label "${label}" is not 8-40 of [0-9a-z]`);
    this.browserHost = `apphost-${port}-${label}.localhost:${port}`;
    this.machineHost = `${bindAddress.includes(":") ? `[${bindAddress}]` : bindAddress}:${port}`;
  }

  get browserUrl(): string {
    return `http://${this.browserHost}`;
  }

  get machineUrl(): string {
    return `http://${this.machineHost}`;
  }

  /** Which audience the request's Host names; undefined = refuse it. */
  audienceOf(req: IncomingMessage): HostAudience | undefined {
    const host = req.headers.host?.toLowerCase();
    if (host === this.browserHost) return "browser";
    if (host === this.machineHost) return "machine";
    return undefined;
  }
}
