import net from "node:net";
import pg from "pg";
import { describe, expect, it } from "vitest";
import {
  databaseUnavailableProblem,
  isPoolBusyError,
  isTransientConnectionError,
  retryWhileUnreachable,
} from "./postgres-availability.js";

const withCode = (code: string, message = "boom") => Object.assign(new Error(message), { code });

describe("isTransientConnectionError", () => {
  it("recognises connection failures, also when wrapped by drizzle", () => {
    expect(isTransientConnectionError(withCode("ECONNREFUSED"))).toBe(true);
    expect(isTransientConnectionError(withCode("57P03"))).toBe(true);
    expect(isTransientConnectionError(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(
      isTransientConnectionError(new Error("Failed query: select 1", { cause: withCode("ECONNRESET") })),
    ).toBe(true);
  });

  it("does not excuse query errors or non-errors", () => {
    expect(isTransientConnectionError(withCode("23505", "duplicate key"))).toBe(false);
    expect(isTransientConnectionError(withCode("28P01", "password authentication failed"))).toBe(false);
    expect(isTransientConnectionError("ECONNREFUSED")).toBe(false);
    expect(isTransientConnectionError(undefined)).toBe(false);
  });
});

describe("retryWhileUnreachable", () => {
  it("retries while the database is starting or recovering, then succeeds", async () => {
    let calls = 0;
    const retries: number[] = [];
    await retryWhileUnreachable(
      () => {
        calls += 1;
        return calls < 3
          ? Promise.reject(withCode("57P03", "the database system is in recovery mode"))
          : Promise.resolve();
      },
      { waitMs: 10_000, onRetry: (_, attempt) => retries.push(attempt) },
    );
    expect(calls).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  it("throws a non-transient failure at once, and a transient one after the wait", async () => {
    let calls = 0;
    const bad = withCode("28P01", "password authentication failed");
    await expect(
      retryWhileUnreachable(
        () => {
          calls += 1;
          return Promise.reject(bad);
        },
        { waitMs: 10_000, onRetry: () => {} },
      ),
    ).rejects.toBe(bad);
    expect(calls).toBe(1);
    const down = withCode("ECONNREFUSED");
    await expect(
      retryWhileUnreachable(() => Promise.reject(down), { waitMs: 0, onRetry: () => {} }),
    ).rejects.toBe(down);
  });
});

describe("a busy pool versus an unreachable database (real pg-pool)", () => {
  it("tells the two apart, and answers each with its own 503 and Retry-After", async () => {
    // A server that accepts connections and never answers: the first client hangs in its
    // handshake and fills the pool of one; the second waits for a free client.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const pool = new pg.Pool({ host: "127.0.0.1", port, max: 1, connectionTimeoutMillis: 300 });
    try {
      const [first, second] = await Promise.allSettled([pool.connect(), pool.connect()]);
      const unreachable = first.status === "rejected" ? (first.reason as unknown) : undefined;
      const busy = second.status === "rejected" ? (second.reason as unknown) : undefined;
      expect(isTransientConnectionError(unreachable)).toBe(true);
      expect(isPoolBusyError(unreachable)).toBe(false);
      expect(isPoolBusyError(busy)).toBe(true);
      // Also through drizzle's wrapper.
      expect(isPoolBusyError(new Error("Failed query: select 1", { cause: busy }))).toBe(true);

      expect(databaseUnavailableProblem(busy)).toMatchObject({
        status: 503,
        detail: expect.stringMatching(/busy/) as string,
        headers: { "Retry-After": "1" },
      });
      expect(databaseUnavailableProblem(unreachable)).toMatchObject({
        status: 503,
        detail: expect.stringMatching(/unreachable/) as string,
        headers: { "Retry-After": "5" },
      });
      expect(databaseUnavailableProblem(new Error("syntax error"))).toBeUndefined();
    } finally {
      await pool.end().catch(() => undefined);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
