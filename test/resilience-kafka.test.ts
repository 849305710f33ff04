import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin } from "@platformatic/kafka";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { eventually } from "./support/receiver.js";
import { signalGroup } from "./support/signals.js";
import { startTraffic } from "./support/traffic.js";
import {
  appliedCounts,
  killDuringStream,
  query,
  waitForApplied,
  waitForOutboxDrained,
  waitForQuiet,
} from "./support/system.js";
import { soakModel } from "./soak/soak-model.js";
import { readTopicWitness, type TopicWitnessOptions } from "./soak/topic-witness.js";

// test/resilience.test.ts on Kafka: the system of apphost.ts with MESSAGING_TRANSPORT=kafka,
// parts of it SIGKILLed under traffic. Each case ends with every entity applied once by the
// receiver, and the topic read by a witness group of its own, so that a second copy the relay
// wrote is counted on the topic (and shown to have been skipped by the inbox), not guessed.
const TOPIC = "entity-items";

let app: DistributedApplication;
let sender: string;
const replicas: ChildProcess[] = [];

beforeAll(async () => {
  app = await startTestApp({ model: soakModel("kafka"), mode: "process" });
  sender = app.getEndpoint("sender");
}, 600_000);

afterAll(async () => {
  for (const replica of replicas) if (replica.pid !== undefined) signalGroup(replica.pid, "SIGKILL");
  await stopTestApp(app);
});

function bootstrapBrokers(): string[] {
  return app.getConnectionString("broker").split(",");
}

function witnessOptions(): TopicWitnessOptions {
  return { bootstrap: app.getConnectionString("broker"), topic: TOPIC, timeoutMs: 120_000 };
}

/** Every id applied exactly once; every outbox row on the topic; copies on the topic counted. */
async function expectExactlyOnce(ids: string[]): Promise<{ copiesOnTopic: number }> {
  const applied = await waitForApplied(app, ids);
  expect(applied.size, "every entity applied").toBe(ids.length);
  expect((await waitForOutboxDrained(app)).pending ?? 0).toBe(0);
  // Count once nothing more can arrive: outbox settled, every group (and its retry tiers) committed.
  await waitForQuiet(app);
  const final = await appliedCounts(app, ids);
  expect(
    [...final].filter(([, n]) => n !== 1),
    "entities applied more than once",
  ).toEqual([]);
  const witness = await readTopicWitness(witnessOptions());
  const [rows] = await query<{ n: number }>(
    app.getConnectionString("senderdb"),
    "SELECT count(*)::int AS n FROM outbox_messages",
  );
  expect(witness.distinct, "every outbox row on the topic").toBe(rows?.n);
  return { copiesOnTopic: witness.messages - witness.distinct };
}

/** Outbox rows a relay has claimed and not settled: their sends are out, their outcomes are not in. */
async function unsettledClaims(): Promise<number> {
  const [row] = await query<{ n: number }>(
    app.getConnectionString("senderdb"),
    "SELECT count(*)::int AS n FROM outbox_messages WHERE status = 'pending' AND locked_until > now()",
  );
  return row?.n ?? 0;
}

describe("Kafka broker killed under traffic", () => {
  it("keeps accepting writes while Kafka is dead and applies every one exactly once after it returns", async () => {
    const traffic = startTraffic(sender, "kafka-broker-kill");
    try {
      await traffic.waitForAccepted(20);
      await waitForApplied(app, traffic.accepted().slice(0, 5));
      await app.killResource("broker");
      expect(app.resource("broker").state).toBe("Exited");
      // The outbox takes the writes while the broker is gone.
      await traffic.waitForAccepted(traffic.accepted().length + 20);
      await app.startResource("broker");
      await app.waitForHealthy("broker", 180_000);
      await traffic.waitForAccepted(traffic.accepted().length + 20);
    } finally {
      await traffic.stop();
    }
    await expectExactlyOnce(traffic.accepted());
  }, 600_000);
});

describe("receiver killed mid-batch", () => {
  it("loses nothing and applies nothing twice", async () => {
    const { ids, appliedAtKill } = await killDuringStream(app, "receiver", "kafka-receiver-crash");
    // Precondition: the kill hit the stream, with part of it applied and part still in flight.
    expect(appliedAtKill, "applied when the receiver was killed").toBeGreaterThan(0);
    expect(appliedAtKill, "applied when the receiver was killed").toBeLessThan(ids.length);
    await app.startResource("receiver");
    await app.waitForHealthy("receiver", 180_000);
    await expectExactlyOnce(ids);
  }, 600_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** A second receiver process with the first one's configuration: another member of its groups. */
async function startReceiverReplica(): Promise<{ child: ChildProcess; url: string }> {
  const env = app.environmentOf("receiver");
  if (!env) throw new Error("the receiver has no environment");
  const port = await freePort();
  const child = spawn(process.execPath, ["--conditions=outbox-source", "--import", "tsx", "src/main.ts"], {
    cwd: path.resolve("receiver-service"),
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: "ignore",
    detached: true,
  });
  replicas.push(child);
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    "the receiver replica healthy",
    async () => ((await fetch(`${url}/health`).catch(() => undefined))?.ok ? true : undefined),
    120_000,
  );
  return { child, url };
}

async function groupMembers(groupId: string): Promise<number> {
  const admin = new Admin({ clientId: "resilience-kafka-members", bootstrapBrokers: bootstrapBrokers() });
  try {
    const groups = await admin.describeGroups({ groups: [groupId] });
    return groups.get(groupId)?.members.size ?? 0;
  } finally {
    await admin.close();
  }
}

describe("consumer-group rebalance while messages flow", () => {
  it("a second receiver joining and then killed: nothing lost, nothing applied twice", async () => {
    const traffic = startTraffic(sender, "kafka-rebalance");
    const groupId = `${TOPIC}.receiver`;
    try {
      await traffic.waitForAccepted(20);
      await waitForApplied(app, traffic.accepted().slice(0, 5));
      expect(await groupMembers(groupId), "members before the replica").toBe(1);
      const replica = await startReceiverReplica();
      // Precondition: the replica joined the group, so its partitions were taken from the first.
      await eventually(
        "two members in the receiver's group",
        async () => ((await groupMembers(groupId)) === 2 ? true : undefined),
        60_000,
      );
      await traffic.waitForAccepted(traffic.accepted().length + 30);
      await waitForApplied(app, traffic.accepted());
      // The replica leaves the hard way, with messages flowing: the group rebalances after the
      // session timeout and the survivor takes its partitions from their committed offsets.
      signalGroup(replica.child.pid!, "SIGKILL");
      await eventually(
        "one member left in the receiver's group",
        async () => ((await groupMembers(groupId)) === 1 ? true : undefined),
        60_000,
      );
      await traffic.waitForAccepted(traffic.accepted().length + 30);
    } finally {
      await traffic.stop();
    }
    await expectExactlyOnce(traffic.accepted());
  }, 600_000);
});

describe("the sender's relay killed with sends in flight", () => {
  it("publishes the unsettled rows again after the restart; the inbox skips the copies on the topic", async () => {
    const traffic = startTraffic(sender, "kafka-relay-kill");
    let unsettled = 0;
    try {
      await traffic.waitForAccepted(20);
      await waitForApplied(app, traffic.accepted().slice(0, 5));
      // Stall the broker so that no acknowledgement can come back, until the relay holds sends.
      const brokerPid = app.resource("broker").pid;
      expect(brokerPid).toBeGreaterThan(0);
      signalGroup(brokerPid!, "SIGSTOP");
      try {
        // Precondition: the relay holds claimed rows whose sends have no outcome yet.
        unsettled = await eventually(
          "relay claims whose sends have no outcome",
          async () => {
            const n = await unsettledClaims();
            return n > 0 ? n : undefined;
          },
          30_000,
        );
        await app.killResource("sender");
      } finally {
        signalGroup(brokerPid!, "SIGCONT");
      }
      expect(app.resource("sender").state).toBe("Exited");
      await app.startResource("sender");
      await app.waitForHealthy("sender", 180_000);
      await traffic.waitForAccepted(traffic.accepted().length + 20);
    } finally {
      await traffic.stop();
    }
    expect(unsettled).toBeGreaterThan(0);
    // Every copy of an unsettled send the relay wrote again is on the topic (the witness counts
    // it) and was skipped by the inbox (applied once).
    const { copiesOnTopic } = await expectExactlyOnce(traffic.accepted());
    process.stderr.write(`relay kill: ${unsettled} unsettled sends, ${copiesOnTopic} copies on the topic\n`);
  }, 600_000);
});
