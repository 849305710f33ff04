// The configuration of one Kafka node in KRaft mode (broker and controller in one JVM), shared by
// process mode (server.properties) and container mode (the same keys as KAFKA_* variables).

import { createHash, randomBytes } from "node:crypto";

export interface KafkaNodeAddresses {
  /** Where the broker listens (`127.0.0.1` in process mode, `0.0.0.0` in a container). */
  listenHost: string;
  brokerPort: number;
  controllerPort: number;
  /** What clients are told to connect to: the host-side address. */
  advertisedHost: string;
  advertisedPort: number;
}

/** The line the broker logs once it serves clients (kafka.server.KafkaRaftServer). */
export const KAFKA_READY_LINE = "Kafka Server started";

export const KAFKA_NODE_ID = 1;

/**
 * One node's settings. The internal topics get one partition and replication factor 1: their
 * defaults (50 partitions each, factor 3) make a one-node restart take seconds longer, or fail.
 * The quorum is static (`controller.quorum.voters`), so a node whose controller port changed
 * between runs still finds itself.
 */
export function kafkaNodeSettings(addresses: KafkaNodeAddresses, logDir: string): Map<string, string> {
  const { listenHost, brokerPort, controllerPort, advertisedHost, advertisedPort } = addresses;
  return new Map([
    ["node.id", String(KAFKA_NODE_ID)],
    ["process.roles", "broker,controller"],
    ["controller.quorum.voters", `${KAFKA_NODE_ID}@127.0.0.1:${controllerPort}`],
    ["listeners", `PLAINTEXT://${listenHost}:${brokerPort},CONTROLLER://${listenHost}:${controllerPort}`],
    ["advertised.listeners", `PLAINTEXT://${advertisedHost}:${advertisedPort}`],
    ["controller.listener.names", "CONTROLLER"],
    ["inter.broker.listener.name", "PLAINTEXT"],
    ["listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"],
    ["log.dirs", logDir],
    ["num.partitions", "1"],
    ["offsets.topic.replication.factor", "1"],
    ["offsets.topic.num.partitions", "1"],
    ["transaction.state.log.replication.factor", "1"],
    ["transaction.state.log.min.isr", "1"],
    ["transaction.state.log.num.partitions", "1"],
    ["share.coordinator.state.topic.replication.factor", "1"],
    ["share.coordinator.state.topic.min.isr", "1"],
    ["group.initial.rebalance.delay.ms", "0"],
  ]);
}

export function renderServerProperties(settings: Map<string, string>): string {
  return ["# Written by the AppHost at every start.", ...[...settings].map(([k, v]) => `${k}=${v}`), ""].join(
    "\n",
  );
}

/**
 * The same settings as the official image's variables: `KAFKA_` + the key upper-cased with '.'
 * as '_' (the image turns them back into server.properties).
 */
export function kafkaImageEnvironment(settings: Map<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of settings) env[`KAFKA_${key.toUpperCase().replaceAll(".", "_")}`] = value;
  return env;
}

/**
 * A cluster id as Kafka makes them (16 random bytes, URL-safe base64 without padding), made here
 * because `kafka-storage random-uuid` also logs to stdout, which a capture would take in. Like
 * Kafka's own Uuid, never one starting with "-": the storage tool would read it as an option
 * (one first start in 64 failed so).
 */
export function newClusterId(random: () => Buffer = () => randomBytes(16)): string {
  for (;;) {
    const id = random().toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/** A cluster id derived from `seed` (the same on every publish), never starting with "-". */
export function derivedClusterId(seed: string): string {
  for (let n = 0; ; n++) {
    const id = createHash("sha256")
      .update(n === 0 ? seed : `${seed}\0${n}`)
      .digest()
      .subarray(0, 16)
      .toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/**
 * log4j2 settings: the broker's started line and every warning to stdout; Kafka's
 * per-partition INFO chatter is left out (it drowns the AppHost console).
 */
export const KAFKA_LOG4J2_PROPERTIES = [
  "status = warn",
  // The JVM's own shutdown ends the broker; log4j's hook would only warn that it came too late.
  "shutdownHook = disable",
  "appender.out.type = Console",
  "appender.out.name = STDOUT",
  "appender.out.layout.type = PatternLayout",
  "appender.out.layout.pattern = %p %m (%c{1})%n",
  "rootLogger.level = WARN",
  "rootLogger.appenderRef.out.ref = STDOUT",
  "logger.server.name = kafka.server.KafkaRaftServer",
  "logger.server.level = INFO",
  "",
].join("\n");

/** The JVM's heap and GC for one small node on a shared 2-core machine. */
export const KAFKA_HEAP_OPTIONS = ["-Xms128m", "-Xmx384m", "-XX:+UseSerialGC"];
