// `publish` of a model with Kafka, run as a user deploys it: the Compose output is brought up with
// docker-compose 1.29 on this machine's images (APPHOST_IMAGE_KAFKA, the look-alike of
// apache/kafka when the official image is not here), the broker becomes healthy by its published
// health check, the one-shot topics service creates every declared topic with its partitions and
// settings and exits 0, and a container that waits for Kafka starts only after it. The topics are
// read back with the image's own tools from that other container, through the bootstrap address
// services are given (`events:9092`, the broker's advertised listener). Everything is taken down with its volumes afterwards, also when a test fails. The
// Kubernetes output of the same model validates offline against the Kubernetes schemas.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../apphost/src/model/app-builder.js";
import type { KafkaResource } from "../apphost/src/model/kafka.js";
import type { PublishedTopic } from "../apphost/src/kafka/topics-script.js";
import { imageAvailability } from "../apphost/src/providers/container/docker-objects.js";
import { LOCAL_IMAGES, OFFICIAL_IMAGES } from "../apphost/src/providers/container/images.js";
import { publish } from "../apphost/src/publish/publish.js";
import { eventually } from "./support/receiver.js";
import { validateManifests } from "./support/kubernetes-validate.js";

const run = promisify(execFile);
const suffix = randomUUID().slice(0, 8);
const project = `publish-kafka-${suffix}`;

/**
 * The topics of a consumer group as the model's `withTopic(…, { groups })` declares them (retry
 * tiers, dead letters kept forever, compacted marks), given through `topics()`, which is all
 * publish reads (the per-group declaration is another branch's).
 */
const GROUP_TOPICS: PublishedTopic[] = [
  { name: "orders.billing.retry-1", partitions: 3 },
  { name: "orders.billing.retry-2", partitions: 3 },
  { name: "orders.billing.dlt", partitions: 1, retentionMs: -1 },
  { name: "orders.billing.dlt-marks", partitions: 1, cleanupPolicy: "compact" },
];

let root: string;
let dir: string;
let env: NodeJS.ProcessEnv;
let up = false;
/** Topic ids as first created, to tell a kept topic from one created again. */
let firstIds = new Map<string, string>();

async function compose(...args: string[]): Promise<string> {
  const { stdout } = await run("docker-compose", args, {
    cwd: dir,
    env,
    timeout: 600_000,
    maxBuffer: 32 * 1024 * 1024,
  });
  return stdout;
}

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run("docker", args, { timeout: 300_000, maxBuffer: 32 * 1024 * 1024 });
  return stdout.trim();
}

/** Containers of this project (any state), by compose service name. */
async function containers(): Promise<Map<string, string>> {
  const out = await docker(
    "ps",
    "-a",
    "--filter",
    `label=com.docker.compose.project=${project}`,
    "--format",
    '{{.ID}} {{.Label "com.docker.compose.service"}}',
  );
  const byService = new Map<string, string>();
  for (const line of out.split("\n").filter(Boolean)) {
    const [id = "", service = ""] = line.split(" ");
    byService.set(service, id);
  }
  return byService;
}

async function inspect(id: string, format: string): Promise<string> {
  return docker("inspect", "--format", format, id);
}

/**
 * Every topic as the image's own tool describes it, asked from the client's container through the
 * bootstrap address services get: `Topic: <name>\tTopicId: …\tPartitionCount: n\t…\tConfigs: k=v,…`.
 */
async function describeTopics(): Promise<Map<string, { id: string; partitions: number; configs: string }>> {
  const client = (await containers()).get("client");
  if (!client) throw new Error("no client container");
  const described = await docker(
    "exec",
    "-e",
    "KAFKA_HEAP_OPTS=-Xmx128m",
    client,
    "/opt/kafka/bin/kafka-topics.sh",
    "--bootstrap-server",
    "events:9092",
    "--describe",
    "--exclude-internal",
  );
  const summaries = new Map<string, { id: string; partitions: number; configs: string }>();
  for (const line of described.split("\n")) {
    const match = /^Topic: (\S+)\s+TopicId: (\S+)\s+PartitionCount: (\d+).*Configs: ?(.*)$/.exec(line);
    if (match?.[1] && match[2])
      summaries.set(match[1], { id: match[2], partitions: Number(match[3]), configs: match[4] ?? "" });
  }
  return summaries;
}

function kafkaModel(): { app: ReturnType<typeof createApp>; kafka: KafkaResource } {
  const app = createApp({ name: project });
  const kafka = app.addKafka("events").withTopic("orders", { partitions: 3, retentionMs: 86_400_000 });
  const declared = kafka.topics();
  kafka.topics = () => [...declared, ...GROUP_TOPICS];
  // A client that only sleeps (containers reference nothing but parameters in the model): when it
  // starts is what counts, and the tools in its image read the topics through the broker's name.
  app.addContainer("client", kafkaImage()).withArgs("sleep", "infinity").waitFor(kafka);
  return { app, kafka };
}

function kafkaImage(): string {
  return process.env.APPHOST_IMAGE_KAFKA ?? OFFICIAL_IMAGES.kafka;
}

beforeAll(async () => {
  // The official image when present, else the look-alike `npm run images` builds.
  if (!process.env.APPHOST_IMAGE_KAFKA && !(await imageAvailability(OFFICIAL_IMAGES.kafka)).available)
    process.env.APPHOST_IMAGE_KAFKA = LOCAL_IMAGES.kafka;
  const image = kafkaImage();
  // The published output runs the image's own tools: a look-alike built before it carried them
  // would fail late and obscurely.
  await docker("run", "--rm", "--entrypoint", "test", image, "-x", "/opt/kafka/bin/kafka-topics.sh").catch(
    () => {
      throw new Error(`${image} has no /opt/kafka/bin/kafka-topics.sh: rebuild it with \`npm run images\``);
    },
  );
  root = await fs.mkdtemp(path.join(os.tmpdir(), "publish-kafka-"));
  dir = path.join(root, "deploy");
  await publish(kafkaModel().app, {
    target: "compose",
    outputDir: dir,
    rootDir: root,
    log: () => undefined,
    digests: () => Promise.resolve(new Map()),
  });
  env = { ...process.env, COMPOSE_PROJECT_NAME: project };
  up = true;
  await compose("up", "-d");
}, 600_000);

afterAll(async () => {
  if (up) await compose("down", "--volumes", "--remove-orphans", "--timeout", "30").catch(() => "");
  if (root) await fs.rm(root, { recursive: true, force: true });
}, 300_000);

describe("the published Compose project with Kafka", () => {
  it("starts the broker healthy, creates the declared topics once, then starts its client", async () => {
    const started = Date.now();
    await eventually(
      "the broker healthy, the topics service exited 0 and the client running",
      async () => {
        const list = await containers();
        const [broker, topics, client] = ["events", "events-topics", "client"].map((s) => list.get(s));
        if (!broker || !topics || !client) return undefined;
        const state = await inspect(topics, "{{.State.Status}} {{.State.ExitCode}}");
        if (state.startsWith("exited") && state !== "exited 0")
          throw new Error(`events-topics failed (${state}):\n${await docker("logs", topics)}`);
        return (await inspect(broker, "{{.State.Health.Status}}")) === "healthy" &&
          state === "exited 0" &&
          (await inspect(client, "{{.State.Status}}")) === "running"
          ? true
          : undefined;
      },
      420_000,
    );
    const list = await containers();
    const id = (service: string) => list.get(service) ?? "";
    console.log(
      `broker healthy, topics created, client running in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    // The client waited for the topics (service_completed_successfully), not just for the broker.
    const topicsFinished = Date.parse(await inspect(id("events-topics"), "{{.State.FinishedAt}}"));
    const clientStarted = Date.parse(await inspect(id("client"), "{{.State.StartedAt}}"));
    expect(clientStarted).toBeGreaterThanOrEqual(topicsFinished);
    expect(await docker("logs", id("events-topics"))).toContain("5 topic(s) of events in place");
  });

  it("holds every declared topic with its partitions and settings, read from another container", async () => {
    const summaries = await describeTopics();
    firstIds = new Map([...summaries].map(([name, topic]) => [name, topic.id]));
    expect([...summaries.keys()].sort()).toEqual(["orders", ...GROUP_TOPICS.map((t) => t.name)].sort());
    expect(summaries.get("orders")?.partitions).toBe(3);
    expect(summaries.get("orders")?.configs).toContain("retention.ms=86400000");
    expect(summaries.get("orders.billing.retry-1")?.partitions).toBe(3);
    expect(summaries.get("orders.billing.dlt")?.configs).toContain("retention.ms=-1");
    expect(summaries.get("orders.billing.dlt-marks")).toMatchObject({ partitions: 1 });
    expect(summaries.get("orders.billing.dlt-marks")?.configs).toContain("cleanup.policy=compact");
  });

  it("runs the broker as the image's user with no capabilities and its data on a named volume", async () => {
    const broker = (await containers()).get("events");
    if (!broker) throw new Error("no broker container");
    expect(await inspect(broker, "{{json .HostConfig.CapDrop}}")).toBe('["ALL"]');
    expect(await inspect(broker, "{{json .HostConfig.SecurityOpt}}")).toBe('["no-new-privileges:true"]');
    expect(await inspect(broker, "{{.Config.User}}")).not.toMatch(/^(root|0)?(:|$)/);
    const mounts = JSON.parse(await inspect(broker, "{{json .Mounts}}")) as Array<{
      Type: string;
      Name?: string;
      Destination: string;
    }>;
    expect(mounts).toContainEqual(
      expect.objectContaining({
        Type: "volume",
        Name: `${project}_events-data`,
        Destination: "/var/lib/kafka/data",
      }),
    );
    // Nothing of the broker is published on the host.
    expect(await docker("port", broker)).toBe("");
  });

  it("keeps the topics when the project is brought up again (the script leaves existing ones alone)", async () => {
    await compose("up", "-d", "--no-deps", "--force-recreate", "events-topics");
    await eventually(
      "the recreated topics service to exit 0",
      async () => {
        const id = (await containers()).get("events-topics");
        const state = id ? await inspect(id, "{{.State.Status}} {{.State.ExitCode}}") : "";
        if (state.startsWith("exited") && state !== "exited 0") throw new Error(`events-topics: ${state}`);
        return state === "exited 0" ? true : undefined;
      },
      300_000,
    );
    // The precondition: the ids of the first creation were read.
    expect(firstIds.size).toBe(1 + GROUP_TOPICS.length);
    const again = await describeTopics();
    expect(new Map([...again].map(([name, topic]) => [name, topic.id]))).toEqual(firstIds);
  });
});

describe("the published Kubernetes manifests with Kafka", () => {
  it("validate offline against the Kubernetes schemas (strict)", async () => {
    const output = path.join(root, "kubernetes");
    await publish(kafkaModel().app, {
      target: "kubernetes",
      outputDir: output,
      rootDir: root,
      log: () => undefined,
      digests: () => Promise.resolve(new Map()),
    });
    const manifests = (await fs.readdir(output)).filter(
      (f) => f.endsWith(".yaml") && f !== "kustomization.yaml",
    );
    expect(manifests.sort()).toEqual(["client.yaml", "events.yaml", "network-policies.yaml"]);
    const result = await validateManifests(output, manifests);
    const passed = result.stdout.split("\n").filter((l) => l.includes(" passed for resource "));
    // events.yaml: StatefulSet, headless Service, client Service, topics Job; client.yaml: a
    // Deployment; network-policies.yaml: default deny, DNS, events, the topics Job, client.
    expect(passed).toHaveLength(10);
    expect(result.stdout + result.stderr).not.toMatch(/failed|ERROR/);
  });
});
