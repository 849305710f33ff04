import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDashboardChild, type DashboardChild } from "./support/dashboard-child-process.js";

// The dashboard's HTTP surface before login, attacked over raw sockets (fetch cannot send a
// malformed request): the process must stay up, answer every request with a status below 500,
// and give nothing away without a session.

let dashboard: DashboardChild;
let port: number;
/** The dashboard's browser name: the only Host under which login and sessions exist. */
let host: string;

beforeAll(async () => {
  dashboard = await startDashboardChild();
  port = dashboard.port;
  host = dashboard.browserHost;
});

afterAll(async () => {
  await dashboard?.stop();
});

interface RawResponse {
  status: number | undefined;
  head: string;
}

/** Sends raw bytes, reads until the server closes (or `timeoutMs`), returns the status line's code. */
function raw(request: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      resolve({ status: match ? Number(match[1]) : undefined, head: received.slice(0, 300) });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on("data", (chunk) => (received += chunk.toString("latin1")));
    socket.on("end", done);
    socket.on("close", done);
    socket.on("error", done);
    socket.write(request);
  });
}

function get(target: string, headers: string[] = []): Promise<RawResponse> {
  return raw(
    [`GET ${target} HTTP/1.1`, `Host: ${host}`, "Connection: close", ...headers, "", ""].join("\r\n"),
  );
}

async function expectAlive(): Promise<void> {
  expect(dashboard.exitCode(), `the dashboard process exited:\n${dashboard.output()}`).toBeUndefined();
  expect((await get("/login")).status).toBe(200);
}

/** Small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PATH_PIECES = [
  "/api/",
  "/api/resources/",
  "/api/messaging/",
  "/replay/",
  "/v1/",
  "/assets/",
  "/login",
  "/logout",
  "/traces/",
  "%",
  "%%",
  "%E0%A4%A",
  "%C0%AF",
  "%FF",
  "%00",
  "%2e%2e%2f",
  "../",
  "//",
  "?t=%",
  "?",
  "#",
  ";",
  "é",
  "\u202e",
  "a".repeat(300),
  "start",
  "dead-letters",
  // Names Object.prototype has: an object-literal lookup would find them.
  "constructor",
  "__proto__",
];
const METHODS = [
  "GET",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "HEAD",
  "TRACE",
  "BREW",
  "get",
  "M".repeat(40),
];
const HEADERS = [
  "Cookie: apphost_session_1=%",
  "Cookie: =;;=; a",
  `Cookie: ${"x=y; ".repeat(500)}`,
  "Origin: null",
  "Origin: http://evil.example",
  "Sec-Fetch-Site: cross-site",
  "Content-Type: application/json",
  "Content-Encoding: gzip",
  "x-otlp-api-key: %",
  "Authorization: Bearer %",
  "Host: evil.example",
  "Range: bytes=0-1,2-3",
  "Accept: text/event-stream",
];

describe("dashboard HTTP surface before login", () => {
  it("GET /api/% answers 400 and the dashboard keeps running", async () => {
    expect((await get("/api/%")).status).toBe(400);
    expect((await get("/api/resources/%E0%A4%A/start")).status).toBe(400);
    await expectAlive();
  });

  it("malformed paths, methods and headers never crash it, never answer 5xx, never leak data", async () => {
    const next = random(12);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
    const failures: string[] = [];
    for (let round = 0; round < 6; round++) {
      const batch = Array.from({ length: 40 }, () => {
        const target =
          "/" +
          Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(PATH_PIECES))
            .join("")
            .replace(/^\/+/, "");
        const method = pick(METHODS);
        const headers = Array.from({ length: Math.floor(next() * 3) }, () => pick(HEADERS));
        const body = method === "GET" || method === "HEAD" ? "" : "\x1f\x8b garbage {";
        const request = Buffer.from(
          [
            `${method} ${target} HTTP/1.1`,
            // Mostly the dashboard's own name (the whole router is reachable), sometimes 127.0.0.1.
            `Host: ${next() < 0.8 ? host : `127.0.0.1:${port}`}`,
            "Connection: close",
            ...headers,
            `Content-Length: ${Buffer.byteLength(body)}`,
            "",
            body,
          ].join("\r\n"),
        );
        return raw(request).then((response) => ({ method, target, headers, response }));
      });
      for (const { method, target, headers, response } of await Promise.all(batch)) {
        const { status } = response;
        const described = `${method} ${JSON.stringify(target)} ${JSON.stringify(headers)} -> ${status ?? "no answer"}`;
        // The parser may close a connection it cannot read (no status); it must never fail inside.
        if (status !== undefined && status >= 500) failures.push(described);
        // Before login nothing under /api/ or /v1/ may succeed.
        if (status !== undefined && status < 300 && /^\/(api|v1)\//.test(target)) failures.push(described);
      }
      await expectAlive();
    }
    expect(failures).toEqual([]);
  });

  it("answers malformed requests with 4xx: bad request lines, headers, lengths", async () => {
    const cases: Array<[string, string | Buffer]> = [
      ["absolute-form URL", "GET http://evil.example/api/% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
      ["no path", "GET  HTTP/1.1\r\nHost: x\r\n\r\n"],
      ["asterisk", "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
      ["bad header name", "GET / HTTP/1.1\r\nHo st: x\r\n\r\n"],
      ["header without colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n"],
      ["negative length", "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"],
      ["two lengths", "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"],
      ["bogus chunking", "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
      ["NUL in path", Buffer.from("GET /api/\0 HTTP/1.1\r\nHost: x\r\n\r\n", "latin1")],
      ["HTTP/9", "GET / HTTP/9.9\r\nHost: x\r\n\r\n"],
      ["binary garbage", Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256))],
    ];
    const failures: string[] = [];
    for (const [name, request] of cases) {
      const { status } = await raw(request);
      if (status !== undefined && (status < 400 || status >= 500) && !(name === "asterisk" && status === 404))
        failures.push(`${name} -> ${status}`);
    }
    expect(failures).toEqual([]);
    await expectAlive();
  });

  it("huge headers get 431 and many headers are refused", async () => {
    expect((await get("/", [`X-Big: ${"a".repeat(64 * 1024)}`])).status).toBe(431);
    const many = Array.from({ length: 3000 }, (_, i) => `X-H${i}: ${i}`);
    const status = (await get("/", many)).status;
    expect(status === undefined || status === 431 || status === 400).toBe(true);
    await expectAlive();
  });

  it("slow clients are cut off and do not block others", async () => {
    // Slow body: announces 1000 bytes, sends one byte a second.
    const slowBody = net.connect(port, "127.0.0.1");
    const slowHeaders = net.connect(port, "127.0.0.1");
    const closed = (socket: net.Socket) =>
      new Promise<number>((resolve) => {
        const began = Date.now();
        socket.on("error", () => {});
        socket.on("close", () => resolve(Date.now() - began));
      });
    const bodyClosed = closed(slowBody);
    const headersClosed = closed(slowHeaders);
    slowBody.write(`POST /login HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1000\r\n\r\n`);
    slowHeaders.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n`);
    const drip = setInterval(() => {
      if (!slowBody.destroyed) slowBody.write("a");
      if (!slowHeaders.destroyed) slowHeaders.write("X-Drip: 1\r\n");
    }, 1000);
    try {
      // Others are served meanwhile.
      await expectAlive();
      // The dashboard closes both (request timeout 2 s, headers timeout 1.5 s in the child);
      // the bound leaves room for a slow machine.
      const [bodyMs, headersMs] = await Promise.all([bodyClosed, headersClosed]);
      expect(bodyMs).toBeLessThan(10_000);
      expect(headersMs).toBeLessThan(10_000);
    } finally {
      clearInterval(drip);
      slowBody.destroy();
      slowHeaders.destroy();
    }
    await expectAlive();
  });
});
