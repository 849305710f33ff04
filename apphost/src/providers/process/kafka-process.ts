import { spawn } from "node:child_process";
import { constants, existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { checkJava } from "../../artemis/instance.js";
import { brokerHealth, ensureTopics } from "../../kafka/admin.js";
import { ensureKafkaDistribution } from "../../kafka/distribution.js";
import {
  KAFKA_HEAP_OPTIONS,
  KAFKA_LOG4J2_PROPERTIES,
  KAFKA_READY_LINE,
  kafkaNodeSettings,
  newClusterId,
  renderServerProperties,
} from "../../kafka/node-config.js";
import type { KafkaResource } from "../../model/kafka.js";
import { childEnvironment } from "../../runtime/child-environment.js";
import type { ConnectionInfo } from "../../runtime/environment.js";
import { choosePort } from "../../runtime/ports.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";
import { startJavaBroker } from "./java-broker-process.js";

const HOST = "127.0.0.1";

/**
 * One Kafka node (broker and controller) from the jars the AppHost caches, run by the Java that
 * process-mode Artemis uses. Its log directory is `<state>/data/<name>/kraft-logs`, formatted on
 * the first start; the configuration is written anew at every start.
 */
export class KafkaProcessProvider implements ResourceProvider<KafkaResource> {
  async start(resource: KafkaResource, context: StartContext): Promise<StartedResource> {
    const java = await checkJava();
    if (!java.ok) throw new Error(`Kafka runs on the same Java as Artemis: ${java.message}`);
    const distribution = await ensureKafkaDistribution({
      log: context.log,
      progress: context.progress,
      signal: context.signal,
    });
    const brokerPort = await choosePort(context.settings.port(resource.name, "kafka"));
    context.settings.setPort(resource.name, "kafka", brokerPort);
    const controllerPort = await choosePort(context.settings.port(resource.name, "controller"));
    context.settings.setPort(resource.name, "controller", controllerPort);
    await context.settings.save();

    // Only the AppHost's user reads the broker's records.
    await closeToOthers(context.dataDir);
    const logDir = path.join(context.dataDir, "kraft-logs");
    const configDir = path.join(context.dataDir, "config");
    await fs.mkdir(configDir, { recursive: true });
    const serverProperties = path.join(configDir, "server.properties");
    const log4j = path.join(configDir, "log4j2.properties");
    await fs.writeFile(
      serverProperties,
      renderServerProperties(
        kafkaNodeSettings(
          { listenHost: HOST, brokerPort, controllerPort, advertisedHost: HOST, advertisedPort: brokerPort },
          logDir,
        ),
      ),
    );
    await fs.writeFile(log4j, KAFKA_LOG4J2_PROPERTIES);
    const javaCommand = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, "bin", "java") : "java";
    const jvm = [
      ...KAFKA_HEAP_OPTIONS,
      "-Djava.awt.headless=true",
      `-Dlog4j2.configurationFile=${log4j}`,
      "-cp",
      path.join(distribution.libs, "*"),
    ];
    const env = childEnvironment(process.env.JAVA_HOME ? { JAVA_HOME: process.env.JAVA_HOME } : {});

    if (!existsSync(path.join(logDir, "meta.properties"))) {
      const clusterId = newClusterId();
      context.log(`formatting ${logDir} (cluster ${clusterId})`);
      await runTool(
        javaCommand,
        [
          ...jvm,
          "kafka.tools.StorageTool",
          "format",
          "-t",
          clusterId,
          "-c",
          serverProperties,
          "--ignore-formatted",
        ],
        env,
        context.log,
      );
    }

    const started = Date.now();
    const child = await startJavaBroker({
      name: resource.name,
      product: "Kafka",
      spec: {
        command: javaCommand,
        args: [...jvm, "kafka.Kafka", serverProperties],
        cwd: context.dataDir,
        env,
      },
      logs: context.logs,
      readyLine: KAFKA_READY_LINE,
      host: HOST,
      port: brokerPort,
      signal: context.signal,
    });
    const bootstrap = `${HOST}:${brokerPort}`;
    try {
      context.log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s on ${bootstrap}`);
      await ensureTopics(bootstrap, resource.topics(), context.log);
    } catch (error) {
      // A broker whose topics cannot be created is not left behind.
      await child.stop("SIGTERM", 10_000);
      throw error;
    }

    const connection: ConnectionInfo = {
      uri: bootstrap,
      host: HOST,
      port: brokerPort,
      username: "",
      password: "",
    };
    return {
      get pid() {
        return child.pid;
      },
      endpoints: { kafka: `kafka://${bootstrap}` },
      connection,
      exited: child.exited,
      checkHealth: async () =>
        child.running ? brokerHealth(bootstrap) : { healthy: false, detail: "not running" },
      stop: async () => void (await child.stop("SIGTERM", 20_000)),
      kill: async () => void (await child.kill()),
    };
  }
}

/** Runs a Kafka tool to its end; its output goes to the resource's log, its failure names the tail. */
function runTool(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      // Its one useful line on success; everything on failure.
      const lines = output.split("\n").filter((l) => l.trim());
      for (const line of code === 0 ? lines.filter((l) => l.startsWith("Formatting")) : lines) log(line);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `Kafka's StorageTool exited with ${String(code)}: ${output.trim().split("\n").slice(-3).join(" | ")}`,
          ),
        );
    });
  });
}

/**
 * Makes the broker's data directory 0700, changed through a handle opened without following a
 * link: as root the state directory is searchable by every user, and the records are the
 * application's messages.
 */
async function closeToOthers(dataDir: string): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const handle = await fs.open(dataDir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    if (((await handle.stat()).mode & 0o7777) !== 0o700) await handle.chmod(0o700);
  } finally {
    await handle.close();
  }
}
