import fs from "node:fs/promises";
import path from "node:path";
import { Wait } from "testcontainers";
import { brokerHealth, ensureTopics } from "../../kafka/admin.js";
import {
  KAFKA_HEAP_OPTIONS,
  KAFKA_READY_LINE,
  kafkaImageEnvironment,
  kafkaNodeSettings,
  newClusterId,
} from "../../kafka/node-config.js";
import type { KafkaResource } from "../../model/kafka.js";
import type { ConnectionInfo } from "../../runtime/environment.js";
import { choosePort } from "../../runtime/ports.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";
import { ensureVolume, labelsFor, volumeName, type Owner } from "./docker-objects.js";
import { chooseImage, OFFICIAL_IMAGES } from "./images.js";
import { LoopbackGenericContainer } from "./loopback.js";
import { containerResource, logConsumer } from "./started-container.js";

const HOST = "127.0.0.1";
/** The official image's contract: the broker port it exposes and its data volume. */
const CONTAINER_PORT = 9092;
const CONTROLLER_PORT = 9093;
const DATA_DIR = "/var/lib/kafka/data";

/**
 * Kafka as a container of the official `apache/kafka` image (or one keeping its contract): the node
 * is configured through `KAFKA_*` variables (the image writes them into server.properties), formats
 * its data directory on the first start with `CLUSTER_ID`, and keeps it in a named volume. The
 * host port is chosen before the start because clients are redirected to the advertised listener:
 * it must name the host-mapped port, not 9092.
 */
export class KafkaContainerProvider implements ResourceProvider<KafkaResource> {
  constructor(private readonly owner: Owner) {}

  async start(resource: KafkaResource, context: StartContext): Promise<StartedResource> {
    const port = await choosePort(context.settings.port(resource.name, "kafka"));
    context.settings.setPort(resource.name, "kafka", port);
    await context.settings.save();
    const clusterId = await storedClusterId(context.dataDir);
    const { image, source } = chooseImage({
      resource: resource.name,
      kind: "kafka",
      model: resource.image,
      fallback: OFFICIAL_IMAGES.kafka,
    });
    const volume = volumeName(this.owner, resource.name);
    await ensureVolume(this.owner, resource.name, volume);
    context.log(`image ${image} (${source}), volume ${volume}, port ${HOST}:${port}`);

    const settings = kafkaNodeSettings(
      {
        listenHost: "0.0.0.0",
        brokerPort: CONTAINER_PORT,
        controllerPort: CONTROLLER_PORT,
        advertisedHost: HOST,
        advertisedPort: port,
      },
      DATA_DIR,
    );
    const started = Date.now();
    const container = await new LoopbackGenericContainer(image)
      .withEnvironment({
        ...kafkaImageEnvironment(settings),
        CLUSTER_ID: clusterId,
        KAFKA_HEAP_OPTS: KAFKA_HEAP_OPTIONS.filter((o) => o.startsWith("-Xm")).join(" "),
      })
      .withExposedPorts({ container: CONTAINER_PORT, host: port })
      .withBindMounts([{ source: volume, target: DATA_DIR }])
      .withLabels(labelsFor(this.owner, resource.name))
      .withLogConsumer(logConsumer(context.logs, resource.name))
      .withWaitStrategy(Wait.forLogMessage(KAFKA_READY_LINE))
      .withStartupTimeout(120_000)
      .start();
    const bootstrap = `${HOST}:${port}`;
    try {
      context.log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s on ${bootstrap}`);
      await ensureTopics(bootstrap, resource.topics(), context.log);
    } catch (error) {
      await container.stop().catch(() => undefined);
      throw error;
    }

    const connection: ConnectionInfo = { uri: bootstrap, host: HOST, port, username: "", password: "" };
    return containerResource({
      container,
      image,
      endpoints: { kafka: `kafka://${bootstrap}` },
      connection,
      checkHealth: () => brokerHealth(bootstrap),
      stopTimeoutSeconds: 20,
    });
  }
}

/**
 * The cluster id the volume was formatted with, kept beside the run's state (wiped with it by
 * --fresh, like the volume): the same id is passed at every start, as the image's contract wants.
 */
async function storedClusterId(dataDir: string): Promise<string> {
  const file = path.join(dataDir, "cluster-id");
  const stored = (await fs.readFile(file, "utf8").catch(() => "")).trim();
  if (stored) return stored;
  const id = newClusterId();
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  await fs.writeFile(file, `${id}\n`);
  return id;
}
