import type { ControlFile } from "./state-files.js";
import { CliError } from "./state-files.js";

/**
 * Calls a running AppHost's dashboard API with the token from its control file. `dashboardUrl` is
 * the dashboard's 127.0.0.1 address: it serves bearer-token requests (no cookie, no session), and
 * Node cannot resolve the browser's `*.localhost` name.
 */
export class ControlClient {
  constructor(private readonly control: Pick<ControlFile, "dashboardUrl" | "token">) {}

  async get<T>(pathname: string): Promise<T> {
    return (await this.request("GET", pathname)) as T;
  }

  async post<T>(pathname: string, body?: unknown): Promise<T> {
    return (await this.request("POST", pathname, body)) as T;
  }

  private async request(method: string, pathname: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(this.control.dashboardUrl + pathname, {
        method,
        headers: {
          authorization: `Bearer ${this.control.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (error) {
      throw new CliError(
        `The AppHost's dashboard (${this.control.dashboardUrl}) does not answer: ${(error as Error).message}`,
      );
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: keep the text for the message.
    }
    if (!response.ok) {
      const detail =
        typeof parsed === "object" && parsed !== null && "error" in parsed
          ? String(parsed.error)
          : text.slice(0, 300);
      throw new CliError(`${method} ${pathname}: ${response.status} ${detail}`);
    }
    return parsed;
  }
}
