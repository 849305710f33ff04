import http from "node:http";
import type { AddressInfo } from "node:net";
import { HttpProblem } from "@outbox/service-defaults";
import { MAX_BROWSE, type DeadLetter } from "../transports/artemis/dead-letter-queue.js";
import { BrokerUnavailableError } from "../transports/artemis/management.js";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { deadLetterRouter } from "./dead-letter-router.js";
import type {
  DeadLetterOperations,
  DeadLetterRoutesOptions,
  DeadLetterSource,
} from "./dead-letter-routes.js";

/** A dead-letter queue in memory: what the broker's management would answer, and what was asked. */
class FakeQueue implements DeadLetterOperations {
  readonly calls: string[] = [];
  down = false;

  constructor(
    readonly queue: string,
    readonly letters: DeadLetter[],
  ) {}

  count(): Promise<number> {
    return this.answer("count", () => this.letters.length);
  }

  browse(limit: number): Promise<DeadLetter[]> {
    // Like Artemis' listMessages: never more than MAX_BROWSE, whatever is asked.
    return this.answer(`browse ${limit}`, () => this.letters.slice(0, Math.min(limit, MAX_BROWSE)));
  }

  replay(id: number): Promise<boolean> {
    return this.answer(`replay ${id}`, () => this.take(id));
  }

  replayAll(): Promise<number> {
    return this.answer("replayAll", () => this.letters.splice(0).length);
  }

  remove(id: number): Promise<boolean> {
    return this.answer(`remove ${id}`, () => this.take(id));
  }

  private take(id: number): boolean {
    const at = this.letters.findIndex((l) => l.id === id);
    if (at >= 0) this.letters.splice(at, 1);
    return at >= 0;
  }

  private answer<T>(call: string, value: () => T): Promise<T> {
    this.calls.push(call);
    if (this.down) return Promise.reject(new BrokerUnavailableError("broker not connected"));
    return Promise.resolve(value());
  }
}

const letter = (id: number): DeadLetter => ({
  id,
  messageId: `m-${id}`,
  type: "Thing",
  version: 1,
  groupId: undefined,
  correlationId: undefined,
  originalAddress: "things",
  originalQueue: "things",
  properties: {},
});

const itemSchema = z.object({ id: z.number().int(), messageId: z.string().nullable(), seenBy: z.string() });

function options(
  source: DeadLetterSource,
  extra: Partial<DeadLetterRoutesOptions<z.infer<typeof itemSchema>>> = {},
): DeadLetterRoutesOptions<z.infer<typeof itemSchema>> {
  return {
    basePath: "/admin/dead-letters",
    source,
    docs: {
      tag: "DeadLetters",
      pageSchemaId: "TestDeadLetterPage",
      operationIds: {
        list: "list",
        count: "count",
        replay: "replay",
        replayAll: "replayAll",
        delete: "delete",
      },
      summaries: {
        list: "list",
        count: "count",
        replay: "replay",
        replayAll: "replay all",
        delete: "delete",
      },
    },
    items: {
      schema: itemSchema,
      describe: (letters, { group }) =>
        Promise.resolve(
          letters.map((l) => ({ id: l.id, messageId: l.messageId ?? null, seenBy: group ?? "-" })),
        ),
    },
    ...extra,
  };
}

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** An Express app with the router behind a stand-in for the host's own authentication. */
async function serve(opts: DeadLetterRoutesOptions<z.infer<typeof itemSchema>>): Promise<string> {
  const app = express();
  app.use((req, res, next) => {
    if (req.headers.authorization === "Bearer admin") next();
    else res.status(401).end();
  });
  app.use(deadLetterRouter(opts));
  const server = http.createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/dead-letters`;
}

const asAdmin = { authorization: "Bearer admin" };
async function call(url: string, method = "GET"): Promise<{ status: number; type: string; body: unknown }> {
  const response = await fetch(url, { method, headers: asAdmin });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get("content-type") ?? "",
    body: text === "" ? undefined : (JSON.parse(text) as unknown),
  };
}

describe("deadLetterRouter", () => {
  it("leaves authentication to the host: the router is only reached through it", async () => {
    const dlq = new FakeQueue("DLQ.things", [letter(1)]);
    const url = await serve(options({ queue: dlq }));
    expect((await fetch(url)).status).toBe(401);
    expect(dlq.calls).toEqual([]);
  });

  it("lists the oldest letters with the service's items and the total count", async () => {
    const dlq = new FakeQueue("DLQ.things", [letter(1), letter(2), letter(3)]);
    const url = await serve(options({ queue: dlq }));
    const page = await call(`${url}?limit=2`);
    expect(page).toMatchObject({
      status: 200,
      body: {
        queue: "DLQ.things",
        count: 3,
        items: [
          { id: 1, messageId: "m-1", seenBy: "-" },
          { id: 2, messageId: "m-2", seenBy: "-" },
        ],
      },
    });
    expect(page.body).not.toHaveProperty("group");
    expect((await call(url)).body).toMatchObject({ count: 3 });
    expect(dlq.calls).toContain("browse 100");
  });

  it("bounds the page size by what the broker lists: 1..MAX_BROWSE, integers only", async () => {
    const dlq = new FakeQueue("DLQ.things", [letter(1)]);
    const url = await serve(options({ queue: dlq }));
    expect((await call(`${url}?limit=${MAX_BROWSE}`)).status).toBe(200);
    for (const limit of ["0", String(MAX_BROWSE + 1), "1.5", "x", "-1"]) {
      const refused = await call(`${url}?limit=${limit}`);
      expect(refused.status, limit).toBe(400);
      expect(refused.type).toContain("application/problem+json");
      expect(refused.body).toMatchObject({
        title: "Validation failed",
        errors: [{ path: "limit", location: "query" }],
      });
    }
    // Only the valid request reached the queue.
    expect(dlq.calls).toEqual(["count", `browse ${MAX_BROWSE}`]);
  });

  it("counts, replays one (404 when it is not there), replays all and deletes one", async () => {
    const dlq = new FakeQueue("DLQ.things", [letter(1), letter(2), letter(3)]);
    const url = await serve(options({ queue: dlq }));
    expect((await call(`${url}/count`)).body).toEqual({ queue: "DLQ.things", count: 3 });
    expect((await call(`${url}/2/replay`, "POST")).status).toBe(204);
    expect(await call(`${url}/2/replay`, "POST")).toMatchObject({
      status: 404,
      body: { title: "Not Found", detail: "No message 2 in DLQ.things" },
    });
    expect((await call(`${url}/3`, "DELETE")).status).toBe(204);
    expect((await call(`${url}/3`, "DELETE")).status).toBe(404);
    expect((await call(`${url}/replay`, "POST")).body).toEqual({ replayed: 1 });
    expect(dlq.letters).toEqual([]);
  });

  it("refuses a broker id that is not a non-negative integer before asking the broker", async () => {
    const dlq = new FakeQueue("DLQ.things", [letter(1)]);
    const url = await serve(options({ queue: dlq }));
    for (const id of ["x", "-1", "1e3", "0x1", "null"]) {
      expect((await call(`${url}/${id}/replay`, "POST")).status, id).toBe(400);
      expect((await call(`${url}/${id}`, "DELETE")).status, id).toBe(400);
    }
    expect(dlq.calls).toEqual([]);
  });

  it("answers 503 while the broker cannot be asked", async () => {
    const dlq = new FakeQueue("DLQ.things", [letter(1)]);
    dlq.down = true;
    const url = await serve(options({ queue: dlq }));
    for (const [path, method] of [
      ["", "GET"],
      ["/count", "GET"],
      ["/1/replay", "POST"],
      ["/replay", "POST"],
      ["/1", "DELETE"],
    ] as const)
      expect(await call(`${url}${path}`, method), `${method} ${path}`).toMatchObject({
        status: 503,
        body: { title: "Service Unavailable", detail: "broker not connected" },
      });
  });

  it("picks a group's queue by ?group=, the default group without it, and refuses an unknown group", async () => {
    const main = new FakeQueue("DLQ.things.main", [letter(1)]);
    const audit = new FakeQueue("DLQ.things.audit", [letter(7), letter(8)]);
    const url = await serve(
      options({
        byGroup: new Map([
          ["main", main],
          ["audit", audit],
        ]),
        defaultGroup: "main",
      }),
    );
    expect((await call(url)).body).toMatchObject({
      group: "main",
      queue: "DLQ.things.main",
      count: 1,
      items: [{ id: 1, seenBy: "main" }],
    });
    expect((await call(`${url}/count?group=audit`)).body).toEqual({
      group: "audit",
      queue: "DLQ.things.audit",
      count: 2,
    });
    expect((await call(`${url}/8/replay?group=audit`, "POST")).status).toBe(204);
    expect((await call(`${url}/8/replay`, "POST")).status).toBe(404);
    expect(await call(`${url}/count?group=nope`)).toMatchObject({
      status: 400,
      body: { errors: [{ path: "group", location: "query" }] },
    });
    expect(audit.letters.map((l) => l.id)).toEqual([7]);
  });

  it("lets the service refuse a delete before the broker removes anything", async () => {
    const dlq = new FakeQueue("DLQ.things", [letter(1), letter(2)]);
    const checked: number[] = [];
    const url = await serve(
      options(
        { queue: dlq },
        {
          beforeDelete: {
            check: (id) => {
              checked.push(id);
              if (id === 1) throw new HttpProblem(409, "Still needed", "letter 1 is still needed", { id });
              return Promise.resolve();
            },
            conflict: { description: "Still needed" },
          },
        },
      ),
    );
    expect(await call(`${url}/1`, "DELETE")).toMatchObject({
      status: 409,
      body: { title: "Still needed", id: 1 },
    });
    expect((await call(`${url}/2`, "DELETE")).status).toBe(204);
    expect(checked).toEqual([1, 2]);
    expect(dlq.letters.map((l) => l.id)).toEqual([1]);
    expect(dlq.calls.filter((c) => c.startsWith("remove"))).toEqual(["remove 2"]);
  });

  it("needs a default group that has a queue", () => {
    expect(() =>
      deadLetterRouter(
        options({ byGroup: new Map([["main", new FakeQueue("q", [])]]), defaultGroup: "other" }),
      ),
    ).toThrow(/default group other/);
    expect(() => deadLetterRouter(options({ byGroup: new Map(), defaultGroup: "main" }))).toThrow(
      /at least one consumer group/,
    );
  });
});
