import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp, testMode } from "@outbox/apphost/testing";
import { inspectContainer } from "./support/containers.js";
import {
  GROUP_QUEUES,
  appliedCounts,
  consumerCounters,
  outboxStatusCounts,
  postEntities,
  postEntity,
  query,
  waitForApplied,
  waitForQuiet,
} from "./support/system.js";

// The whole system from the AppHost model: two PostgreSQL servers, Artemis, both services. Runs once per
// provider mode (vitest projects integration and integration-container).
let app: DistributedApplication;
let sender: string;
let receiver: string;

beforeAll(async () => {
  app = await startTestApp();
  sender = app.getEndpoint("sender");
  receiver = app.getEndpoint("receiver");
});

afterAll(async () => {
  await stopTestApp(app);
});

describe("the running system", () => {
  it("reports every resource Running and Healthy in state.json", async () => {
    const { readFile, stat } = await import("node:fs/promises");
    const state = JSON.parse(await readFile(app.stateFile, "utf8")) as {
      resources: Array<{
        name: string;
        kind: string;
        state: string;
        health: string;
        pid: number | null;
        endpoints: Record<string, string>;
        connectionString?: string;
        container?: { id: string; image: string };
      }>;
      mode: string;
    };
    expect((await stat(app.stateFile)).mode & 0o777).toBe(0o600);
    const byName = new Map(state.resources.map((r) => [r.name, r]));
    expect([...byName.keys()].sort()).toEqual([
      "broker",
      "log-level",
      "receiver",
      "receiver-pg",
      "receiverdb",
      "sender",
      "sender-pg",
      "senderdb",
    ]);
    expect(state.mode).toBe(testMode());
    for (const r of state.resources) {
      expect(r.state, r.name).toBe("Running");
      expect(r.health, r.name).toBe("Healthy");
      if (r.kind === "parameter") {
        // A value resolved by the AppHost: no process and no container of its own.
        expect(r.pid, r.name).toBeNull();
        expect(r.container, r.name).toBeUndefined();
        continue;
      }
      const infrastructure = r.kind !== "node-service";
      if (testMode() === "container" && infrastructure) {
        // Infrastructure runs in containers (the AppHost owns no process of theirs); services stay processes.
        expect(r.container?.id, r.name).toMatch(/^[0-9a-f]{64}$/);
        expect(r.pid, r.name).toBeNull();
      } else {
        expect(r.pid, r.name).toBeGreaterThan(0);
        expect(r.container, r.name).toBeUndefined();
      }
    }
    expect(byName.get("broker")?.endpoints.amqp).toMatch(/^amqp:\/\/127\.0\.0\.1:\d+$/);
    expect(byName.get("senderdb")?.connectionString).toMatch(
      /^postgresql:\/\/senderdb_app:.+@127\.0\.0\.1:\d+\/senderdb$/,
    );
    expect(byName.get("sender")?.endpoints.http).toBe(sender);
  });

  it("runs infrastructure as the mode says: labelled containers publishing on 127.0.0.1 only, or host processes", async () => {
    const infrastructure = app.snapshot().filter((r) => ["postgres-server", "artemis"].includes(r.kind));
    expect(infrastructure.map((r) => r.name).sort()).toEqual(["broker", "receiver-pg", "sender-pg"]);
    for (const r of infrastructure) {
      if (testMode() === "process") {
        expect(r.container, r.name).toBeUndefined();
        continue;
      }
      const inspected = await inspectContainer(r.container?.id ?? "");
      expect(inspected.running, r.name).toBe(true);
      expect(inspected.labels["outbox-apphost.resource"], r.name).toBe(r.name);
      expect(inspected.labels["outbox-apphost.state-dir"], r.name).toBe(app.stateDir);
      expect(inspected.bindings.length, r.name).toBeGreaterThan(0);
      for (const binding of inspected.bindings) expect(binding.hostIp, r.name).toBe("127.0.0.1");
      // The endpoint the services get is the published port.
      const port = Number(new URL(Object.values(r.endpoints)[0] ?? "").port);
      expect(inspected.bindings.map((b) => b.hostPort)).toContain(port);
      expect(inspected.volumes.length, r.name).toBe(1);
    }
  });

  it("applies 200 concurrently posted entities exactly once each", async () => {
    const created = await postEntities(sender, 200, "bulk");
    const ids = created.map((e) => e.id);
    expect(new Set(ids).size).toBe(200);

    const applied = await waitForApplied(app, ids);
    expect(applied.size).toBe(200);
    // Count once nothing more can arrive (outbox settled, queues empty), not after a pause.
    const queues = await waitForQuiet(app);
    const final = await appliedCounts(app, ids);
    expect([...final.values()].every((n) => n === 1)).toBe(true);
    expect(final.size).toBe(200);
    // No duplicate on the queues, counted by the broker: one message per outbox row routed to each
    // group (this file never kills anything, and its broker started fresh).
    const outbox = await outboxStatusCounts(app);
    expect(outbox).toEqual({ delivered: Object.values(outbox).reduce((a, b) => a + b, 0) });
    for (const queue of queues) expect(queue.messagesAdded, queue.queue).toBe(outbox.delivered);
    // Nor did the consumers see one.
    const counters = await consumerCounters(receiver);
    expect(Object.keys(counters).sort()).toEqual([...GROUP_QUEUES].sort());
    for (const [queue, c] of Object.entries(counters)) expect(c.duplicates, queue).toBe(0);

    // The receiver's API serves what its database holds.
    const page = (await (await fetch(`${receiver}/api/ReceivedItems?page=1&pageSize=200`)).json()) as {
      total: number;
      items: unknown[];
    };
    expect(page.total).toBeGreaterThanOrEqual(200);
    const first = created[0]!;
    const one = await fetch(`${receiver}/api/ReceivedItems/${first.id}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ id: first.id, name: first.name });
  });

  it("answers a POST with 201, a Location and the entity; GET by id and the paged list find it", async () => {
    const response = await postEntity(sender, { name: "  trimmed  ", description: "with description" });
    expect(response.status).toBe(201);
    const entity = response.body as { id: string; name: string; description: string };
    expect(entity.name).toBe("trimmed");
    expect(response.headers.get("location")).toBe(`/api/EntityItems/${entity.id}`);
    const fetched = await fetch(`${sender}/api/EntityItems/${entity.id}`);
    expect(fetched.status).toBe(200);
    expect(await fetched.json()).toMatchObject({
      id: entity.id,
      name: "trimmed",
      description: "with description",
    });
    const list = (await (await fetch(`${sender}/api/EntityItems?page=1&pageSize=5`)).json()) as {
      items: Array<{ id: string }>;
      total: number;
    };
    expect(list.items.length).toBeLessThanOrEqual(5);
    expect(list.items[0]?.id).toBe(entity.id);
    expect(list.total).toBeGreaterThan(0);
  });

  it("answers unknown and malformed ids with problem+json 404 and 400", async () => {
    const missing = await fetch(`${sender}/api/EntityItems/00000000-0000-4000-8000-000000000000`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toContain("application/problem+json");
    const malformed = await fetch(`${sender}/api/EntityItems/not-a-uuid`);
    expect(malformed.status).toBe(400);
    const receiverMissing = await fetch(`${receiver}/api/ReceivedItems/00000000-0000-4000-8000-000000000000`);
    expect(receiverMissing.status).toBe(404);
  });

  it("serves health, liveness, the OpenAPI document and Swagger UI on both services", async () => {
    for (const base of [sender, receiver]) {
      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(200);
      const body = (await health.json()) as { checks: Record<string, { status: string }> };
      expect(Object.keys(body.checks)).toEqual(expect.arrayContaining(["database"]));
      expect((await fetch(`${base}/alive`)).status).toBe(200);
      const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as {
        paths: Record<string, unknown>;
      };
      expect(Object.keys(openapi.paths).length).toBeGreaterThan(0);
      const swagger = await fetch(`${base}/swagger/`);
      expect(swagger.status).toBe(200);
      expect(await swagger.text()).toContain("swagger-ui");
    }
    const senderDoc = (await (await fetch(`${sender}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(senderDoc.paths)).toEqual(
      expect.arrayContaining(["/api/EntityItems", "/api/EntityItems/{id}"]),
    );
  });
});

describe("bad input", () => {
  const countRows = async () => {
    const [entities] = await query<{ n: string }>(
      app.getConnectionString("senderdb"),
      "SELECT count(*)::text AS n FROM entity_items",
    );
    const [outbox] = await query<{ n: string }>(
      app.getConnectionString("senderdb"),
      "SELECT count(*)::text AS n FROM outbox_messages",
    );
    return { entities: Number(entities?.n), outbox: Number(outbox?.n) };
  };

  it("is answered with problem+json 400/413 and creates nothing", async () => {
    const before = await countRows();

    const malformed = await postEntity(sender, undefined, { raw: '{"name": "unterminated' });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get("content-type")).toContain("application/problem+json");
    expect(malformed.body).toMatchObject({ status: 400 });

    const wrongTypes = await postEntity(sender, { name: 42, description: ["x"] });
    expect(wrongTypes.status).toBe(400);
    expect(wrongTypes.headers.get("content-type")).toContain("application/problem+json");
    const paths = ((wrongTypes.body as { errors: Array<{ path: string }> }).errors ?? []).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(["name", "description"]));

    const missingName = await postEntity(sender, { description: "no name" });
    expect(missingName.status).toBe(400);

    const unknownField = await postEntity(sender, { name: "x", extra: true });
    expect(unknownField.status).toBe(400);

    const notAnObject = await postEntity(sender, [1, 2, 3]);
    expect(notAnObject.status).toBe(400);

    const oversized = await postEntity(sender, { name: "big", description: "x".repeat(200_000) });
    expect(oversized.status).toBe(413);
    expect(oversized.headers.get("content-type")).toContain("application/problem+json");

    const tooLongName = await postEntity(sender, { name: "n".repeat(201) });
    expect(tooLongName.status).toBe(400);

    expect(await countRows()).toEqual(before);
    const outbox = await outboxStatusCounts(app);
    expect(Object.keys(outbox).every((s) => ["pending", "published", "delivered"].includes(s))).toBe(true);
  });
});
