import dns from "node:dns";
import http from "node:http";
import type { LookupFunction } from "node:net";

/**
 * Resolves `localhost` and every `*.localhost` name to 127.0.0.1, as browsers do (RFC 6761), and
 * anything else through the system resolver. Node's own resolver usually answers ENOTFOUND for
 * `apphost-<port>-<label>.localhost`, the dashboard's browser host name.
 */
export const localhostLookup: LookupFunction = (hostname, options, callback) => {
  if (hostname !== "localhost" && !hostname.endsWith(".localhost")) {
    dns.lookup(hostname, options, callback);
    return;
  }
  if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
  else callback(null, "127.0.0.1", 4);
};

export interface LocalhostRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/**
 * An HTTP request to a `*.localhost` URL from Node, answered as a fetch Response (redirects are
 * not followed). For tools and tests that talk to the dashboard the way a browser does: the Host
 * header is the URL's, so the dashboard's Host allowlist sees what a browser would send.
 */
export function fetchLocalhost(url: string, init: LocalhostRequestInit = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: init.method ?? "GET", headers: init.headers, lookup: localhostLookup },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
          }
          const status = res.statusCode ?? 0;
          const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status, statusText: res.statusMessage, headers }));
        });
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}
