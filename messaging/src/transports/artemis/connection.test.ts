import net from "node:net";
import rhea from "rhea";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger, type HealthCheckResult } from "@outbox/service-defaults";
import { AmqpConnection, parseAmqpUrl } from "./connection.js";

const logger = createLogger("amqp-test", "silent");
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A rhea container acting as a broker that accepts PLAIN user/p@ss:w (or rejects everyone). */
async function fakeBroker(accept = true): Promise<{ port: number; sockets: net.Socket[] }> {
  const container = rhea.create_container({ id: "fake-broker" });
  const mechanisms = container.sasl_server_mechanisms as {
    enable_plain(check: (user: string, password: string) => boolean): void;
  };
  // rhea prints unhandled disconnects of its server-side connections; they are expected here.
  container.on("disconnected", () => undefined);
  mechanisms.enable_plain(
    (user: string, password: string) => accept && user === "user" && password === "p@ss:w",
  );
  const server = container.listen({ port: 0, host: "127.0.0.1" });
  const sockets: net.Socket[] = [];
  server.on("connection", (socket: net.Socket) => sockets.push(socket));
  await new Promise<void>((r) => server.once("listening", () => r()));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => r());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, sockets };
}

function track(conn: AmqpConnection): AmqpConnection {
  cleanups.push(() => conn.close());
  return conn;
}

function failedAttempts(conn: AmqpConnection): number {
  const result = conn.healthCheck()() as HealthCheckResult;
  return result.data?.failedAttempts as number;
}

async function until(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("AmqpConnection", () => {
  it("reports an unreachable broker as unhealthy with the error, keeps retrying, and closes", async () => {
    const port = await closedPort();
    const conn = track(
      new AmqpConnection({
        url: `amqp://user:p%40ss@127.0.0.1:${port}`,
        containerId: "test",
        logger,
        reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
      }),
    );
    expect(await conn.healthCheck()()).toMatchObject({
      status: "unhealthy",
      detail: "broker not connected: not opened",
    });
    conn.open();
    await until(() => conn.lastError() !== undefined);
    expect(conn.isConnected()).toBe(false);
    expect(conn.lastError()).toMatch(/ECONNREFUSED/);
    await until(() => failedAttempts(conn) >= 2);
    const health = await conn.healthCheck()();
    expect(health.status).toBe("unhealthy");
    expect(health.detail).toMatch(/^broker not connected: .*ECONNREFUSED/);

    await conn.close();
    const attempts = failedAttempts(conn);
    await new Promise((r) => setTimeout(r, 200));
    expect(failedAttempts(conn)).toBe(attempts);
    expect(await conn.healthCheck()()).toMatchObject({
      status: "unhealthy",
      detail: "broker not connected: closed",
    });
  });

  it("connects with decoded credentials, reconnects after the socket drops, and closes cleanly", async () => {
    const broker = await fakeBroker();
    const conn = track(
      new AmqpConnection({
        url: `amqp://user:p%40ss%3Aw@127.0.0.1:${broker.port}`,
        containerId: "test",
        logger,
        reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
      }),
    );
    const events: string[] = [];
    conn
      .on("connected", () => events.push("connected"))
      .on("disconnected", () => events.push("disconnected"));
    conn.open();
    await until(() => conn.isConnected());
    expect(await conn.healthCheck()()).toMatchObject({ status: "healthy" });

    broker.sockets.forEach((s) => s.destroy());
    await until(() => events.length >= 3);
    expect(events).toEqual(["connected", "disconnected", "connected"]);
    expect(conn.isConnected()).toBe(true);

    await conn.close();
    expect(conn.isConnected()).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(events).toEqual(["connected", "disconnected", "connected"]);
  });

  it("survives rejected credentials without crashing", async () => {
    const broker = await fakeBroker(false);
    const conn = track(
      new AmqpConnection({ url: `amqp://user:wrong@127.0.0.1:${broker.port}`, containerId: "test", logger }),
    );
    conn.open();
    await until(() => conn.lastError() !== undefined);
    expect(conn.isConnected()).toBe(false);
    expect((await conn.healthCheck()()).status).toBe("unhealthy");
    await conn.close();
  });
});

describe("parseAmqpUrl", () => {
  it("decodes credentials and defaults the port", () => {
    expect(parseAmqpUrl("amqp://us%40er:p%3Ass%2Fw@127.0.0.1")).toEqual({
      transport: "tcp",
      host: "127.0.0.1",
      port: 5672,
      username: "us@er",
      password: "p:ss/w",
    });
    expect(parseAmqpUrl("amqps://[::1]:61617")).toMatchObject({ transport: "tls", host: "::1", port: 61617 });
  });

  it("rejects other schemes without leaking the password", () => {
    expect(() => parseAmqpUrl("http://u:p@h")).toThrow(/scheme/);
    expect(() => parseAmqpUrl("::not a url:secret@")).toThrow(/Invalid AMQP URL/);
  });
});
