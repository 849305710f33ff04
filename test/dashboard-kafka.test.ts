import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import kafkajs from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "@outbox/apphost";
import { outboxMessaging } from "@outbox/apphost/outbox";
import { repositoryRoot } from "@outbox/apphost/testing";
import type {
  KafkaBrokerView,
  KafkaGroupView,
} from "../apphost/src/dashboard/contributions/outbox-messaging/kafka-overview.js";
import { fetchLocalhost } from "../apphost/src/dashboard/localhost-fetch.js";
import { waitUntil } from "../apphost/src/runtime/wait.js";
import {
  CHROMIUM,
  launchBrowser,
  startDashboardApp,
  type Browser,
  type DashboardApp,
} from "./browser/support.js";

// The Messaging page's Kafka view against a real broker (process mode): the endpoint reports what
// the broker holds — a topic the test creates, records it produces on chosen partitions, offsets a
// group commits — and Chromium renders those figures, with the dead-letter topic's replay going
// through a service's transport-neutral dead-letter API.
if (!fs.existsSync(CHROMIUM))
  throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);

const { Kafka, logLevel } = kafkajs;

/**
 * Plays a receiver's dead-letter API for group "billing", whose dead letters the Kafka transport
 * keeps in the topic orders.billing.dlt: counts them, and replays them when asked with ?group=.
 */
const DEAD_LETTER_SERVICE = `
const http = require("node:http");
let count = 2;
http.createServer((req, res) => {
  const url = new URL(req.url, "http://service");
  const json = (status, body) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  const billing = url.searchParams.get("group") === "billing";
  if (url.pathname === "/health") return json(200, { status: "Healthy" });
  if (url.pathname === "/api/consumer-groups") return json(200, { groups: ["billing"] });
  if (url.pathname === "/api/DeadLetters/count" && billing)
    return json(200, { group: "billing", queue: "orders.billing.dlt", count });
  if (req.method === "POST" && url.pathname === "/api/DeadLetters/replay" && billing) {
    const replayed = count;
    count = 0;
    return json(200, { group: "billing", replayed });
  }
  json(404, { error: "not found" });
}).listen(Number(process.env.PORT), "127.0.0.1");
`;

function kafkaDashboardModel() {
  const app = createApp({ name: "dashboard-kafka" });
  const kafka = app.addKafka("events", {
    topics: [
      { name: "orders", partitions: 3 },
      { name: "orders.billing.dlt", partitions: 1, retentionMs: -1 },
    ],
  });
  const service = app
    .addExecutable("dlq-service", process.execPath, ["-e", DEAD_LETTER_SERVICE])
    .withHttpEndpoint()
    .withHttpHealthCheck("/health")
    .withReference(kafka)
    .waitFor(kafka);
  app.addDashboardContribution(outboxMessaging({ services: [service] }));
  return app;
}

describe("the dashboard's Kafka view, process mode", () => {
  let system: DashboardApp | undefined;
  let browser: Browser | undefined;
  let kafka: InstanceType<typeof Kafka> | undefined;
  let auditConsumer: kafkajs.Consumer | undefined;
  let cookie = "";

  beforeAll(async () => {
    system = await startDashboardApp(kafkaDashboardModel());
    const bootstrap = system.app.getConnectionString("events");
    if (!bootstrap) throw new Error("events has no connection string");
    kafka = new Kafka({ clientId: "dashboard-kafka-test", brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const login = await fetchLocalhost(system.dashboard.loginUrl);
    cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  });

  afterAll(async () => {
    await auditConsumer?.disconnect().catch(() => undefined);
    await browser?.close();
    await system?.stop();
  });

  const brokers = async (): Promise<KafkaBrokerView[]> => {
    if (!system) throw new Error("not started");
    const response = await fetchLocalhost(`${system.dashboard.browserUrl}/api/messaging/kafka`, {
      headers: { cookie },
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { brokers: KafkaBrokerView[] }).brokers;
  };
  const events = async (): Promise<KafkaBrokerView> => {
    const [view, ...others] = await brokers();
    expect(others).toEqual([]);
    if (!view) throw new Error("no Kafka resource in the answer");
    return view;
  };
  const group = (view: KafkaBrokerView, id: string): KafkaGroupView | undefined =>
    view.groups.find((g) => g.groupId === id);

  it("reports the broker's topics, partitions, offsets, groups' lag and dead-letter topics", async () => {
    if (!kafka) throw new Error("not started");
    // Precondition: the model's topics exist, empty; no group has committed anything.
    const before = await events();
    expect(before).toMatchObject({ resource: "events", state: "Running" });
    expect(before.error).toBeUndefined();
    expect(before.topics.map((t) => [t.name, t.role, t.partitions.length, t.records])).toEqual([
      ["orders", "events", 3, 0],
      ["orders.billing.dlt", "dead-letter", 1, 0],
    ]);
    expect(before.groups).toEqual([]);

    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: "payments", numPartitions: 2 }] });
      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      try {
        const records = (topic: string, partition: number, n: number) => ({
          topic,
          acks: -1,
          messages: Array.from({ length: n }, (_, i) => ({ partition, key: `k${i}`, value: `v${i}` })),
        });
        await producer.sendBatch({
          acks: -1,
          topicMessages: [
            records("orders", 0, 5),
            records("orders", 1, 3),
            records("orders.billing.dlt", 0, 2),
            records("payments", 1, 1),
          ],
        });
      } finally {
        await producer.disconnect();
      }
      // The billing group read 2 of partition 0 and all of partition 1, never partition 2.
      await admin.setOffsets({
        groupId: "orders.billing",
        topic: "orders",
        partitions: [
          { partition: 0, offset: "2" },
          { partition: 1, offset: "3" },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    // The audit group reads everything and commits as it goes, and stays a member.
    auditConsumer = kafka.consumer({ groupId: "orders.audit" });
    await auditConsumer.connect();
    await auditConsumer.subscribe({ topic: "orders", fromBeginning: true });
    await auditConsumer.run({ eachMessage: () => Promise.resolve() });
    await waitUntil(
      async () => {
        const audit = group(await events(), "orders.audit");
        return audit?.state === "Stable" && audit.topics.length === 1 && audit.lag === 0;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: "orders.audit to commit everything it read" },
    );

    const view = await events();
    expect(view.topics.map((t) => t.name)).toEqual(["orders", "orders.billing.dlt", "payments"]);
    expect(view.topics[0]?.partitions).toEqual([
      { partition: 0, startOffset: 0, endOffset: 5, records: 5 },
      { partition: 1, startOffset: 0, endOffset: 3, records: 3 },
      { partition: 2, startOffset: 0, endOffset: 0, records: 0 },
    ]);
    expect(view.topics[2]).toEqual({
      name: "payments",
      role: "events",
      partitions: [
        { partition: 0, startOffset: 0, endOffset: 0, records: 0 },
        { partition: 1, startOffset: 0, endOffset: 1, records: 1 },
      ],
      records: 1,
    });
    expect(group(view, "orders.billing")).toEqual({
      groupId: "orders.billing",
      state: "Empty",
      members: 0,
      topics: [
        {
          topic: "orders",
          partitions: [
            { partition: 0, committedOffset: 2, endOffset: 5, lag: 3 },
            { partition: 1, committedOffset: 3, endOffset: 3, lag: 0 },
            { partition: 2, committedOffset: null, endOffset: 0, lag: 0 },
          ],
          lag: 3,
        },
      ],
      lag: 3,
    });
    const audit = group(view, "orders.audit");
    expect(audit).toMatchObject({ state: "Stable", members: 1, lag: 0 });
    expect(audit?.topics[0]?.partitions.map((p) => [p.partition, p.endOffset, p.lag])).toEqual([
      [0, 5, 0],
      [1, 3, 0],
      [2, 0, 0],
    ]);
    expect(view.deadLetterTopics).toEqual([
      { topic: "orders.billing.dlt", source: "orders", group: "billing", partitions: 1, records: 2 },
    ]);
  });

  it("renders those figures in Chromium and replays the dead-letter topic through the service", async () => {
    if (!system) throw new Error("not started");
    browser = await launchBrowser();
    const { page } = browser;
    await page.goto(system.dashboard.loginUrl);
    await page.goto(`${system.dashboard.browserUrl}/messaging`);
    const card = page.locator('[data-kafka="events"]');
    await card.waitFor({ timeout: 30_000 });
    const cells = (selector: string) => card.locator(selector).locator("td.num").allInnerTexts();
    // partition, start offset, end offset, records
    expect(await cells('tr[data-topic="orders"][data-partition="0"]')).toEqual(["0", "0", "5", "5"]);
    expect(await cells('tr[data-topic="orders"][data-partition="1"]')).toEqual(["1", "0", "3", "3"]);
    expect(await cells('tr[data-topic="payments"][data-partition="1"]')).toEqual(["1", "0", "1", "1"]);
    const billing = card.locator('h4[data-group="orders.billing"]');
    expect(await billing.getAttribute("data-lag")).toBe("3");
    expect(await billing.innerText()).toContain("lag 3");
    const billingTable = card.locator('table[data-group-table="orders.billing"]');
    // partition, committed offset, end offset, lag
    expect(await billingTable.locator('tr[data-partition="0"] td.num').allInnerTexts()).toEqual([
      "0",
      "2",
      "5",
      "3",
    ]);
    expect(await billingTable.locator('tr[data-partition="2"] td.num').allInnerTexts()).toEqual([
      "2",
      "–",
      "0",
      "0",
    ]);
    expect(await card.locator('h4[data-group="orders.audit"]').getAttribute("data-lag")).toBe("0");
    const dlt = card.locator('tr[data-dlt="orders.billing.dlt"]');
    expect(await dlt.getAttribute("data-records")).toBe("2");
    // The service's own count is shown once its dead-letter API was sampled.
    await expect.poll(() => dlt.innerText(), { timeout: 30_000 }).toContain("2 (dlq-service)");
    await docsScreenshot(browser, "dashboard-kafka");

    await dlt.getByRole("button", { name: "Replay billing's dead letters" }).click();
    await expect
      .poll(() => page.getByTestId("messaging-status").innerText(), { timeout: 15_000 })
      .toContain('"replayed":2');
    // The page reloads after the replay: the service now counts none.
    await expect
      .poll(() => card.locator('tr[data-dlt="orders.billing.dlt"]').innerText(), { timeout: 15_000 })
      .toContain("0 (dlq-service)");
    expect(browser.errors).toEqual([]);
  });

  it("lists a broker that does not answer with the reason, and its figures again once it does", async () => {
    if (!system) throw new Error("not started");
    await auditConsumer?.disconnect();
    auditConsumer = undefined;
    const pid = system.app.resource("events").pid;
    expect(pid).toBeGreaterThan(0);
    // Precondition: figures while it answers.
    expect((await events()).error).toBeUndefined();
    // A frozen JVM: the port still accepts, only a request tells.
    process.kill(pid!, "SIGSTOP");
    let frozen: KafkaBrokerView;
    const started = Date.now();
    try {
      frozen = await events();
    } finally {
      process.kill(pid!, "SIGCONT");
    }
    expect(frozen.error).toMatch(/^the broker did not answer: /);
    expect(frozen.topics).toEqual([]);
    // Bounded by the view's admin timeouts (3 s connect, 5 s per request), with slack for a busy machine.
    expect(Date.now() - started).toBeLessThan(30_000);
    await waitUntil(async () => (await events()).error === undefined, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: "the broker to answer the view again",
    });
    expect((await events()).topics.map((t) => t.name)).toContain("orders");
  });
});

/** docs/dashboard.md shows it. */
async function docsScreenshot(browser: Browser, name: string): Promise<void> {
  const dir = path.join(repositoryRoot, "docs", "screenshots");
  await fsp.mkdir(dir, { recursive: true });
  await browser.page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}
