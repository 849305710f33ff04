import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { buildJourney, type JourneySources } from "./journey.js";
import type { SpanRecord } from "../../otlp-json.js";

// Telemetry is whatever an exporter sent: the ids the journey finds in it must not reshape the
// admin URLs it calls with a service's token.
const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
});

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const MESSAGE = "0190a6d2-3c4b-7def-8123-456789abcdef";

function span(messageId: string): SpanRecord {
  return {
    traceId: TRACE,
    spanId: "b7ad6b7169203331",
    name: "publish",
    service: "sender",
    kind: "producer",
    startMs: 1,
    endMs: 2,
    durationMs: 1,
    error: false,
    attributes: { "messaging.message.id": messageId },
    events: [],
  };
}

describe("buildJourney", () => {
  it("asks the services only about message ids shaped like outbox ids, percent-encoded", async () => {
    const paths: string[] = [];
    const server = http.createServer((req, res) => {
      paths.push(req.url ?? "");
      res.writeHead(404).end();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const hostile = ["../../DeadLetters/replay", "x?group=a", "%2e%2e", "a/b", MESSAGE];
    const sources: JourneySources = {
      services: () => [{ name: "sender", url, adminToken: "t".repeat(32) }],
      spans: () => hostile.map(span),
      logs: () => [],
    };
    await buildJourney(TRACE, sources);
    expect(paths).toEqual([`/api/outbox/messages/${MESSAGE}`]);
  });
});
