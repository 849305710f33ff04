import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchLocalhost } from "../apphost/src/dashboard/localhost-fetch.js";
import { startDashboardChild, type DashboardChild } from "./support/dashboard-child-process.js";

// The dashboard's parsers (OTLP JSON with the API key, the signed-in user's endpoints) fed deeply
// nested and oversized inputs: each request is answered within a bound, never with a 5xx, and the
// dashboard process stays up and keeps serving.

/** Generous for a busy 2-core machine; a parser that recursed or looped would blow far past it. */
const BOUND_MS = 15_000;

let dashboard: DashboardChild;
let cookie: string;

beforeAll(async () => {
  dashboard = await startDashboardChild();
  const login = await fetchLocalhost(`${dashboard.browserUrl}/login?t=${dashboard.secrets.loginToken}`);
  expect(login.status).toBe(302);
  cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  expect(cookie).toMatch(/^apphost_session_\d+=[0-9a-f]{64}$/);
});

afterAll(async () => {
  await dashboard?.stop();
});

interface Answer {
  status: number;
  ms: number;
}

/** Status and time of one request; a connection the server closed early counts as status 0. */
async function timed(send: () => Promise<Response>): Promise<Answer> {
  const began = performance.now();
  const status = await send().then(
    async (response) => {
      await response.arrayBuffer();
      return response.status;
    },
    () => 0,
  );
  return { status, ms: Math.round(performance.now() - began) };
}

function otlp(signal: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return timed(() =>
    fetch(`${dashboard.machineUrl}/v1/${signal}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-otlp-api-key": dashboard.secrets.otlpApiKey,
        ...headers,
      },
      body,
    }),
  );
}

function signedIn(method: string, pathname: string, body?: string | Buffer): Promise<Answer> {
  return timed(() =>
    fetchLocalhost(`${dashboard.browserUrl}${pathname}`, {
      method,
      headers: {
        cookie,
        origin: dashboard.browserUrl,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body,
    }),
  );
}

async function expectAlive(): Promise<void> {
  expect(dashboard.exitCode(), `the dashboard process exited:\n${dashboard.output()}`).toBeUndefined();
  expect((await signedIn("GET", "/api/resources")).status).toBe(200);
}

const nestedArrays = (depth: number): string => "[".repeat(depth) + "]".repeat(depth);
const nestedObjects = (depth: number): string => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
/** An OTLP attribute whose kvlistValue nests `depth` times: valid OTLP shape, absurd depth. */
function nestedAttributeSpans(depth: number): string {
  const open = '{"kvlistValue":{"values":[{"key":"k","value":'.repeat(depth);
  const close = "}]}}".repeat(depth);
  return (
    '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"fuzz"}}]},' +
    '"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",' +
    `"name":"deep","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"deep","value":${open}{"stringValue":"x"}${close}}]}]}]}]}`
  );
}

describe("dashboard parsers, deeply nested and oversized", () => {
  it("OTLP intake: nested, oversized and gzip-inflated bodies get a 4xx within the bound", async () => {
    const failures: string[] = [];
    const cases: Array<[string, () => Promise<Answer>, (status: number) => boolean]> = [
      ["traces: 1M nested arrays", () => otlp("traces", nestedArrays(1_000_000)), is4xx],
      ["logs: 500k nested objects", () => otlp("logs", nestedObjects(500_000)), is4xx],
      ["metrics: 1M nested arrays", () => otlp("metrics", nestedArrays(1_000_000)), is4xx],
      ["traces: 9 MB body", () => otlp("traces", "[".repeat(9 * 1024 * 1024)), is4xx],
      [
        "traces: 40 MB of nesting, gzipped",
        () => otlp("traces", zlib.gzipSync(nestedArrays(20 * 1024 * 1024)), { "content-encoding": "gzip" }),
        is4xx,
      ],
      // Valid OTLP shape with an attribute nested 100k deep: kept with the value cut at the depth
      // limit (200) or refused (4xx); never a 5xx.
      ["traces: attribute nested 100k deep", () => otlp("traces", nestedAttributeSpans(100_000)), below500],
      [
        "traces: one 7 MB string",
        () => otlp("traces", JSON.stringify({ resourceSpans: "x".repeat(7 << 20) })),
        is4xx,
      ],
    ];
    for (const [name, send, ok] of cases) {
      const answer = await send();
      if (!ok(answer.status) || answer.ms > BOUND_MS)
        failures.push(`${name} -> ${answer.status} in ${answer.ms} ms`);
      await expectAlive();
    }
    expect(failures).toEqual([]);
  });

  it("signed-in endpoints: nested and oversized imports, forms, paths and queries never get a 5xx", async () => {
    const failures: string[] = [];
    const longName = "r".repeat(8000);
    const cases: Array<[string, () => Promise<Answer>, (status: number) => boolean]> = [
      [
        "import: 2M nested arrays",
        () => signedIn("POST", "/api/telemetry/import", nestedArrays(2_000_000)),
        is4xx,
      ],
      [
        "import: 1M nested objects",
        () => signedIn("POST", "/api/telemetry/import", nestedObjects(1_000_000)),
        is4xx,
      ],
      [
        "import: nested inside an export's shape",
        () => signedIn("POST", "/api/telemetry/import", `{"resourceSpans":${nestedArrays(1_000_000)}}`),
        // The import is as lenient as the OTLP intake: malformed entries are skipped (200, 0 kept).
        below500,
      ],
      [
        "import: 65 MB",
        () => signedIn("POST", "/api/telemetry/import", Buffer.alloc(65 << 20, 0x5b)),
        refusedOrCut,
      ],
      ["login form: 1 MB", () => signedIn("POST", "/login", "token=" + "a".repeat(1 << 20)), refusedOrCut],
      ["resource action: 8 kB name", () => signedIn("POST", `/api/resources/${longName}/stop`), is4xx],
      ["command: 8 kB name", () => signedIn("POST", `/api/resources/sender/commands/${longName}`), is4xx],
      [
        "replay: 8 kB resource",
        () => signedIn("POST", `/api/messaging/${longName}/replay/dead-letters`),
        is4xx,
      ],
      ["journey: 8 kB query", () => signedIn("GET", `/api/journey?q=${"%5B".repeat(2500)}`), below500],
      [
        "traces: odd numbers",
        () => signedIn("GET", "/api/traces?limit=1e308&minDurationMs=-Infinity&text=%00"),
        below500,
      ],
      ["logs: odd numbers", () => signedIn("GET", "/api/logs?limit=-1&minSeverity=NaN"), below500],
      [
        "series: odd range",
        () => signedIn("GET", "/api/metrics/series?rangeMs=1e400&name=" + "n".repeat(6000)),
        below500,
      ],
      [
        "console: huge limit",
        () => signedIn("GET", "/api/console?limit=9007199254740993&level=%FF"),
        below500,
      ],
      ["trace detail: 8 kB id", () => signedIn("GET", `/api/traces/${"f".repeat(8000)}`), is4xx],
    ];
    for (const [name, send, ok] of cases) {
      const answer = await send();
      if (!ok(answer.status) || answer.ms > BOUND_MS)
        failures.push(`${name} -> ${answer.status} in ${answer.ms} ms`);
      await expectAlive();
    }
    expect(failures).toEqual([]);
  });
});

function is4xx(status: number): boolean {
  return status >= 400 && status < 500;
}

function below500(status: number): boolean {
  return status > 0 && status < 500;
}

/** An oversized body: 413 (or 408 if the client is slower than the request timeout). */
function refusedOrCut(status: number): boolean {
  return status === 413 || status === 408;
}
