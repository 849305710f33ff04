import kafkajs from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp, testMode } from "@outbox/apphost/testing";
import { buildApp } from "../apphost.js";
import { adminFetch, useAdminTokens } from "./support/admin.js";
import { inspectContainer } from "./support/containers.js";
import {
  GROUP_QUEUES,
  appliedCounts,
  consumerCounters,
  kafkaTopicRecords,
  outboxStatusCounts,
  postEntities,
  query,
  waitForApplied,
  waitForQuiet,
  withKafkaAdmin,
} from "./support/system.js";

// The whole system on Kafka (`npm run apphost -- --transport kafka`): the same two services, told
// by their environment alone to use Kafka. Runs once per provider mode (vitest projects integration
// and integration-container).
let app: DistributedApplication;
let sender: string;
let receiver: string;

beforeAll(async () => {
  app = await startTestApp({ model: buildApp({ transport: "kafka" }) });
  sender = app.getEndpoint("sender");
  receiver = app.getEndpoint("receiver");
  useAdminTokens(app);
});

afterAll(async () => {
  await stopTestApp(app);
});

describe("the system on Kafka", () => {
  it("runs Kafka as the broker, tells both services so, and creates every topic the model declares", async () => {
    const broker = app.resource("broker");
    expect(broker.kind).toBe("kafka");
    expect(broker.health).toBe("Healthy");
    if (testMode() === "container") {
      const inspected = await inspectContainer(broker.container?.id ?? "");
      expect(inspected.running).toBe(true);
      for (const binding of inspected.bindings) expect(binding.hostIp).toBe("127.0.0.1");
    } else {
      expect(broker.pid).toBeGreaterThan(0);
    }
    const bootstrap = app.getConnectionString("broker");
    expect(bootstrap).toMatch(/^127\.0\.0\.1:\d+$/);
    for (const service of ["sender", "receiver"]) {
      const env = app.environmentOf(service);
      expect(env?.MESSAGING_TRANSPORT, service).toBe("kafka");
      expect(env?.ConnectionStrings__broker, service).toBe(bootstrap);
    }
    expect(app.environmentOf("receiver")?.RECEIVER_RETRY_DELAYS_MS).toBe("1000,2000,4000,8000");

    // Every declared topic, with its partitions and the configuration the model gave it.
    const declared = new Map<
      string,
      { partitions: number; "retention.ms"?: string; "cleanup.policy"?: string }
    >([
      ["entity-items", { partitions: 3 }],
      ["entity-items.receiver.retry-4", { partitions: 3 }],
      ["entity-items.receiver.dlt", { partitions: 3, "retention.ms": "-1" }],
      ["entity-items.receiver.dlt-marks", { partitions: 1, "cleanup.policy": "compact" }],
      ["entity-items.audit.retry-4", { partitions: 3 }],
      ["entity-items.audit.dlt", { partitions: 3, "retention.ms": "-1" }],
      ["delivery-receipts", { partitions: 1 }],
      ["delivery-receipts.sender.retry-2", { partitions: 1 }],
      ["delivery-receipts.sender.dlt-marks", { partitions: 1, "cleanup.policy": "compact" }],
    ]);
    await withKafkaAdmin(bootstrap, async (admin) => {
      const metadata = await admin.fetchTopicMetadata({ topics: [...declared.keys()] });
      for (const [name, want] of declared) {
        expect(metadata.topics.find((t) => t.name === name)?.partitions.length, name).toBe(want.partitions);
      }
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [...declared.keys()].map((name) => ({
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name,
          configNames: ["retention.ms", "cleanup.policy"],
        })),
      });
      for (const [name, want] of declared) {
        const entries = configs.resources.find((r) => r.resourceName === name)?.configEntries ?? [];
        for (const key of ["retention.ms", "cleanup.policy"] as const) {
          const expected = want[key];
          if (expected === undefined) continue;
          expect(entries.find((e) => e.configName === key)?.configValue, `${name} ${key}`).toBe(expected);
        }
      }
    });
  });

  it("applies 100 concurrently posted entities once in each group and marks them delivered", async () => {
    const before = await kafkaTopicRecords(app.getConnectionString("broker"), "entity-items");
    const created = await postEntities(sender, 100, "kafka");
    const ids = created.map((e) => e.id);
    expect(new Set(ids).size).toBe(100);

    const applied = await waitForApplied(app, ids);
    expect(applied.size).toBe(100);
    // Count once nothing more can arrive: outbox settled, both groups' offsets at the end.
    const groups = await waitForQuiet(app);
    expect(groups.map((g) => g.queue).sort()).toEqual([...GROUP_QUEUES].sort());
    for (const group of groups) expect(group.consumerCount, group.queue).toBeGreaterThan(0);

    const final = await appliedCounts(app, ids);
    expect(final.size).toBe(100);
    expect([...final.values()].every((n) => n === 1)).toBe(true);
    const [audit] = await query<{ rows: number; distinct: number }>(
      app.getConnectionString("receiverdb"),
      `SELECT count(*)::int AS rows, count(DISTINCT aggregate_id)::int AS distinct
         FROM audit_log WHERE aggregate_id = ANY($1::text[])`,
      [ids],
    );
    expect(audit).toEqual({ rows: 100, distinct: 100 });
    // Every row delivered (the receipts came back over Kafka), and no duplicate on the topic.
    const outbox = await outboxStatusCounts(app);
    expect(outbox).toEqual({ delivered: Object.values(outbox).reduce((a, b) => a + b, 0) });
    expect((await kafkaTopicRecords(app.getConnectionString("broker"), "entity-items")) - before).toBe(100);
    const counters = await consumerCounters(receiver);
    expect(Object.keys(counters).sort()).toEqual([...GROUP_QUEUES].sort());
    for (const [queue, c] of Object.entries(counters)) expect(c.duplicates, queue).toBe(0);
  });

  it("follows one message across Kafka through the APIs the Journey page reads: delivered, applied by both groups", async () => {
    const [entity] = await postEntities(sender, 1, "journey");
    await waitForApplied(app, [entity!.id]);
    type Summary = { id: string; status: string };
    let messages: Summary[] = [];
    // The receipt comes back over Kafka after the apply: poll the sender's view until it says so.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const answer = await adminFetch(`${sender}/api/outbox/aggregates/${entity!.id}/messages`);
      expect(answer.status).toBe(200);
      messages = ((await answer.json()) as { items: Summary[] }).items;
      if (messages[0]?.status === "delivered" || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(messages.map((m) => m.status)).toEqual(["delivered"]);
    const answer = await adminFetch(`${receiver}/api/messages/${messages[0]!.id}`);
    expect(answer.status).toBe(200);
    const journey = (await answer.json()) as {
      messageId: string;
      groups: Array<{ group: string; appliedAt: string | null }>;
      failures: unknown[];
    };
    expect(journey.messageId).toBe(messages[0]!.id);
    expect(journey.groups.map((g) => g.group)).toEqual(["receiver", "audit"]);
    for (const g of journey.groups) expect(Date.parse(g.appliedAt ?? ""), g.group).not.toBeNaN();
    expect(journey.failures).toEqual([]);
  });

  it("reports the broker from Kafka itself in both services' health", async () => {
    for (const base of [sender, receiver]) {
      const body = (await (await fetch(`${base}/health`)).json()) as {
        status: string;
        checks: Record<string, { status: string }>;
      };
      expect(body.checks.broker?.status, base).toBe("healthy");
      expect(body.status, base).toBe("healthy");
    }
  });
});
