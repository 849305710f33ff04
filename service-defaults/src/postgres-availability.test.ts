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

  it.each([
    ["ECONNABORTED"],
    ["EPIPE"],
    ["ENETUNREACH"],
    ["ENETDOWN"],
    ["ENOTFOUND"],
    ["EAI_AGAIN"],
    ["57P01"],
    ["57P02"],
    ["57P03"],
    ["57P05"],
    ["53300"],
    ["08000"],
    ["08001"],
    ["08003"],
    ["08004"],
    ["08006"],
    ["08P01"],
  ])("counts %s as a connection failure (a failover or restart, not a bad query)", (code) => {
    expect(isTransientConnectionError(withCode(code))).toBe(true);
    expect(isTransientConnectionError(new Error("Failed query: select 1", { cause: withCode(code) }))).toBe(
      true,
    );
  });

  it("counts pg's read timeout and its not-queryable client as connection failures", () => {
    expect(isTransientConnectionError(new Error("Query read timeout"))).toBe(true);
    expect(
      isTransientConnectionError(new Error("Client has encountered a connection error and is not queryable")),
    ).toBe(true);
  });

  it("leaves other server errors of nearby classes permanent", () => {
    // 53100 disk_full / 53200 out_of_memory are resource errors, not connection ones; 57014 is a
    // cancelled statement, 0800 is no SQLSTATE at all.
    for (const code of ["53100", "53200", "57014", "0800", "E08000"]) {
      expect(isTransientConnectionError(withCode(code))).toBe(false);
    }
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
