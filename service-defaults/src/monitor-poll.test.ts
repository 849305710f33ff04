import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { isMonitorPoll, MONITOR_HEADER } from "./admin-auth.js";
import { ServiceHost } from "./host.js";

// The AppHost dashboard's polls stay out of traces and info logs; any other client must not be
// able to do the same by sending the header.
const TOKEN = "m".repeat(32);
const hosts: ServiceHost[] = [];

afterEach(async () => {
  for (const host of hosts.splice(0)) await host.stop();
});

describe("isMonitorPoll", () => {
  it("needs the header and the service's admin token", () => {
    const req = (headers: Record<string, string>) => ({ headers });
    expect(isMonitorPoll(req({ [MONITOR_HEADER]: "1", authorization: `Bearer ${TOKEN}` }), [TOKEN])).toBe(
      true,
    );
    expect(isMonitorPoll(req({ [MONITOR_HEADER]: "1" }), [TOKEN])).toBe(false);
    expect(isMonitorPoll(req({ [MONITOR_HEADER]: "1", authorization: "Bearer wrong" }), [TOKEN])).toBe(false);
    expect(isMonitorPoll(req({ authorization: `Bearer ${TOKEN}` }), [TOKEN])).toBe(false);
    expect(isMonitorPoll(req({ [MONITOR_HEADER]: "1", authorization: "Bearer " }), [])).toBe(false);
  });
});

describe("ServiceHost request log", () => {
  it("logs a request with only the monitor header at info, the AppHost's authenticated poll at debug", async () => {
    const lines: Array<{ level: number; msg: string; path?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString("utf8").split("\n").filter(Boolean))
          lines.push(JSON.parse(line) as { level: number; msg: string; path?: string });
        done();
      },
    });
    const host = new ServiceHost({
      name: "monitor-test",
      version: "1.0.0",
      logger: pino({ level: "debug" }, sink),
      port: 0,
      handleSignals: false,
      admin: { routePrefixes: ["/api/admin"], tokens: [TOKEN] },
    });
    hosts.push(host);
    host.route({
      method: "get",
      path: "/api/public",
      summary: "Public",
      responses: { 200: { description: "OK" } },
      handler: ({ res }) => void res.json({ ok: true }),
    });
    const { url } = await host.start();
    const requestLevel = async (headers: Record<string, string>): Promise<number | undefined> => {
      const before = lines.length;
      expect((await fetch(`${url}/api/public`, { headers })).status).toBe(200);
      // The log line is written when the response finishes, which may be just after the client has it.
      await expect.poll(() => lines.slice(before).some((l) => l.msg === "request")).toBe(true);
      return lines.slice(before).find((l) => l.msg === "request")?.level;
    };
    const INFO = 30;
    const DEBUG = 20;
    expect(await requestLevel({})).toBe(INFO);
    expect(await requestLevel({ [MONITOR_HEADER]: "1" })).toBe(INFO);
    expect(await requestLevel({ [MONITOR_HEADER]: "1", authorization: "Bearer not-the-token-at-all" })).toBe(
      INFO,
    );
    expect(await requestLevel({ [MONITOR_HEADER]: "1", authorization: `Bearer ${TOKEN}` })).toBe(DEBUG);
  });
});
