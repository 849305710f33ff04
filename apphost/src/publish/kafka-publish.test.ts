import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { createApp } from "../model/app-builder.js";
import type { KafkaResource } from "../model/kafka.js";
import type { PublishedTopic } from "../kafka/topics-script.js";
import { COMPOSE_FILE, renderCompose } from "./compose/compose-publisher.js";
import { deployPlan, type KafkaPlan } from "./deploy-plan.js";
import { NETWORK_POLICIES_FILE, renderKubernetes } from "./kubernetes/kubernetes-publisher.js";

interface ComposeService {
  image: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  read_only?: boolean;
  cap_drop?: string[];
  mem_limit?: string;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}

interface K8sContainer {
  name: string;
  image: string;
  command?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  ports?: Array<{ name: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  readinessProbe?: { exec?: { command: string[] }; tcpSocket?: { port: string } };
  livenessProbe?: { exec?: { command: string[] }; tcpSocket?: { port: string } };
  startupProbe?: { tcpSocket?: { port: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}
interface K8sManifest {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    serviceName?: string;
    clusterIP?: string;
    publishNotReadyAddresses?: boolean;
    selector?: Record<string, string>;
    ports?: Array<{ name: string; port: number }>;
    podSelector?: { matchLabels?: Record<string, string> };
    ingress?: Array<{ from?: unknown[]; ports?: Array<{ port: number }> }>;
    egress?: Array<{ to?: unknown[]; ports?: Array<{ port: number }> }>;
    volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        restartPolicy?: string;
        securityContext?: { runAsUser?: number; runAsNonRoot?: boolean };
        containers: K8sContainer[];
        initContainers?: K8sContainer[];
      };
    };
  };
}

/**
 * A consumer group's topics as the model's `withTopic(…, { groups })` declares them (retry tiers,
 * dead letters kept forever, compacted marks), given through topics() here: the per-group
 * declaration is another branch's, and publish reads only topics().
 */
const GROUP_TOPICS: PublishedTopic[] = [
  { name: "orders.billing.retry-1", partitions: 3 },
  { name: "orders.billing.dlt", partitions: 1, retentionMs: -1 },
  { name: "orders.billing.dlt-marks", partitions: 1, cleanupPolicy: "compact" },
];

function model(configure: (kafka: KafkaResource) => void = () => undefined) {
  const app = createApp({ name: "shop" });
  const kafka = app.addKafka("events").withTopic("orders", { partitions: 3, retentionMs: 86_400_000 });
  const declared = kafka.topics();
  kafka.topics = () => [...declared, ...GROUP_TOPICS];
  configure(kafka);
  app
    .addNodeService("svc", "svc")
    .withHttpEndpoint()
    .withHttpHealthCheck("/health")
    .withReference(kafka)
    .waitFor(kafka);
  return app;
}

function secretsOf(plan: ReturnType<typeof deployPlan>): Record<string, string> {
  return Object.fromEntries(plan.secrets.map((s) => [s.name, `value-of-${s.name}`]));
}

function compose(app = model()) {
  const plan = deployPlan(app, { serviceTag: "t1" });
  const files = renderCompose(plan, secretsOf(plan));
  return parse(files.get(COMPOSE_FILE) ?? "") as {
    services: Record<string, ComposeService>;
    volumes: Record<string, unknown>;
  };
}

function kubernetes(app = model()) {
  const plan = deployPlan(app, { serviceTag: "t1" });
  const files = renderKubernetes(plan, secretsOf(plan));
  const docs = (file: string) => parseAllDocuments(files.get(file) ?? "").map((d) => d.toJS() as K8sManifest);
  return { files, docs };
}

describe("deploy plan: Kafka", () => {
  it("plans the broker with its image, topics and a cluster id that stays the same across publishes", () => {
    const plan = deployPlan(model(), { serviceTag: "t1" });
    const kafka = plan.resources.find((r): r is KafkaPlan => r.kind === "kafka");
    expect(kafka).toMatchObject({
      name: "events",
      image: { variable: "APPHOST_IMAGE_KAFKA", image: "apache/kafka:4.4.0", pinned: false },
    });
    expect(kafka?.topics.map((t) => t.name)).toEqual(["orders", ...GROUP_TOPICS.map((t) => t.name)]);
    expect(kafka?.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const again = deployPlan(model(), { serviceTag: "t1" }).resources.find((r) => r.kind === "kafka");
    expect((again as KafkaPlan).clusterId).toBe(kafka?.clusterId);
    // No password for Kafka: no secret is planned for it.
    expect(plan.secrets.map((s) => s.name).filter((n) => n.includes("EVENTS"))).toEqual([]);
  });

  it("injects the bootstrap servers into a referencing service, as the runtime names them", () => {
    const plan = deployPlan(model(), { serviceTag: "t1" });
    const svc = plan.resources.find((r) => r.name === "svc");
    if (svc?.kind !== "service") throw new Error("no service plan");
    const env = Object.fromEntries(
      svc.environment.map((e) => [
        e.name,
        e.value.map((p) => (typeof p === "string" ? p : `<${p.secret}>`)).join(""),
      ]),
    );
    expect(env).toMatchObject({
      ConnectionStrings__events: "events:9092",
      EVENTS_URI: "events:9092",
      EVENTS_HOST: "events",
      EVENTS_PORT: "9092",
    });
    expect(svc.connects).toContainEqual({ resource: "events", port: 9092 });
    expect(svc.dependsOn).toEqual(["events"]);
  });

  it("passes any other per-topic settings through to kafka-topics.sh", () => {
    const app = model((kafka) => {
      const declared = kafka.topics();
      const tuned: PublishedTopic = {
        name: "tuned",
        partitions: 2,
        cleanupPolicy: "compact",
        config: { "min.compaction.lag.ms": "60000", "cleanup.policy": "compact,delete" },
      };
      kafka.topics = () => [...declared, tuned];
    });
    const script = compose(app).services["events-topics"]?.command?.[0] ?? "";
    // Explicit settings win over the declaration's shorthands; each key is given once.
    expect(script).toContain(
      "--topic tuned --partitions 2 --replication-factor 1 --config cleanup.policy=compact,delete --config min.compaction.lag.ms=60000\n",
    );
  });

  it("refuses a topic setting it cannot publish, naming the topic", () => {
    const app = model((kafka) => {
      const declared = kafka.topics();
      const bad: PublishedTopic = {
        name: "bad",
        partitions: 1,
        config: { "cleanup.policy": "compact; rm -rf /" },
      };
      kafka.topics = () => [...declared, bad];
    });
    expect(() => deployPlan(app, { serviceTag: "t1" })).toThrow(
      /Topic "bad" on "events": setting cleanup\.policy/,
    );
  });
});

describe("Compose publisher: Kafka", () => {
  it("runs one KRaft node from the official image, overridable, with its data on a named volume", () => {
    const { services, volumes } = compose();
    const broker = services.events;
    expect(broker?.image).toBe("${APPHOST_IMAGE_KAFKA:-apache/kafka:4.4.0}");
    expect(broker?.environment).toMatchObject({
      KAFKA_PROCESS_ROLES: "broker,controller",
      KAFKA_NODE_ID: "1",
      KAFKA_CONTROLLER_LISTENER_NAMES: "CONTROLLER",
      KAFKA_LISTENERS: "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093",
      // Clients in the project reach the broker by its service name.
      KAFKA_ADVERTISED_LISTENERS: "PLAINTEXT://events:9092",
      KAFKA_LOG_DIRS: "/var/lib/kafka/data",
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "1",
      KAFKA_HEAP_OPTS: "-Xmx1g -Xms256m",
    });
    expect(broker?.environment?.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(broker?.volumes).toEqual(["events-data:/var/lib/kafka/data"]);
    expect(volumes).toHaveProperty("events-data");
    expect(broker?.ports).toBeUndefined();
    expect(broker?.cap_drop).toEqual(["ALL"]);
    expect(broker?.mem_limit).toBe("2g");
    expect(broker?.restart).toBe("unless-stopped");
    // Healthy when the broker answers a request, not when a port is open.
    expect(broker?.healthcheck?.test[0]).toBe("CMD-SHELL");
    expect(broker?.healthcheck?.test[1]).toContain(
      "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server 127.0.0.1:9092",
    );
  });

  it("lists the Kafka image variable in .env and plans no secret for the broker", () => {
    const plan = deployPlan(model(), { serviceTag: "t1" });
    const env = renderCompose(plan, secretsOf(plan)).get(".env") ?? "";
    expect(env).toContain("# APPHOST_IMAGE_KAFKA=apache/kafka:4.4.0   (no digest known: pinned by tag only)");
    expect(env).not.toMatch(/SECRET_EVENTS/);
  });

  it("takes the model's withImage unless APPHOST_IMAGE_KAFKA is set at deploy time", () => {
    const { services } = compose(model((kafka) => kafka.withImage("registry.example/kafka", "4.4.0")));
    expect(services.events?.image).toBe("${APPHOST_IMAGE_KAFKA:-registry.example/kafka:4.4.0}");
    expect(services["events-topics"]?.image).toBe("${APPHOST_IMAGE_KAFKA:-registry.example/kafka:4.4.0}");
  });

  it("creates every declared topic in a one-shot service after the broker is healthy", () => {
    const { services } = compose();
    const topics = services["events-topics"];
    expect(topics?.depends_on).toEqual({ events: { condition: "service_healthy" } });
    expect(topics?.restart).toBeUndefined();
    expect(topics?.read_only).toBe(true);
    expect(topics?.entrypoint).toEqual(["/bin/sh", "-c"]);
    const script = topics?.command?.[0] ?? "";
    const create = "/opt/kafka/bin/kafka-topics.sh --bootstrap-server events:9092 --create --if-not-exists";
    expect(script).toContain(
      `${create} --topic orders --partitions 3 --replication-factor 1 --config retention.ms=86400000\n`,
    );
    expect(script).toContain(
      `${create} --topic orders.billing.retry-1 --partitions 3 --replication-factor 1\n`,
    );
    expect(script).toContain(
      `--topic orders.billing.dlt --partitions 1 --replication-factor 1 --config retention.ms=-1\n`,
    );
    expect(script).toContain(
      `--topic orders.billing.dlt-marks --partitions 1 --replication-factor 1 --config cleanup.policy=compact\n`,
    );
    // Every "$" escaped for Compose's interpolation, so the shell gets its own variables.
    expect(script).toContain("tries=$$((tries + 1))");
    expect(script.replaceAll("$$", "")).not.toContain("$");
  });

  it("makes the broker's dependents wait for the topics too, with the bootstrap servers injected", () => {
    const { services } = compose();
    expect(services.svc?.depends_on).toEqual({
      events: { condition: "service_healthy" },
      "events-topics": { condition: "service_completed_successfully" },
    });
    expect(services.svc?.environment?.ConnectionStrings__events).toBe("events:9092");
  });
});

describe("Kubernetes publisher: Kafka", () => {
  it("runs one KRaft node as a StatefulSet with a claim, named by a headless Service", () => {
    const manifests = kubernetes().docs("events.yaml");
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      "StatefulSet/events",
      "Service/events-headless",
      "Service/events",
      "Job/events-topics",
    ]);
    const [set, headless, client] = manifests;
    expect(set?.spec.serviceName).toBe("events-headless");
    expect(set?.spec.volumeClaimTemplates?.map((c) => c.metadata.name)).toEqual(["data"]);
    expect(headless?.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    expect(client?.spec.clusterIP).toBeUndefined();
    expect(client?.spec.ports).toEqual([{ name: "kafka", port: 9092, targetPort: "kafka", protocol: "TCP" }]);

    const pod = set?.spec.template.spec;
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    const [kafka] = pod?.containers ?? [];
    expect(kafka?.image).toBe("apache/kafka:4.4.0");
    const env = Object.fromEntries((kafka?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      KAFKA_PROCESS_ROLES: "broker,controller",
      // The pod's own DNS name under the headless Service: its readiness check goes through it.
      KAFKA_ADVERTISED_LISTENERS: "PLAINTEXT://$(POD_NAME).events-headless:9092",
      // A subdirectory of the claim: a volume's root may hold lost+found.
      KAFKA_LOG_DIRS: "/var/lib/kafka/data/kraft",
      KAFKA_HEAP_OPTS: "-Xmx1g -Xms256m",
    });
    expect(env.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // POD_NAME is defined before the variable that refers to it (Kubernetes expands only earlier ones).
    expect(kafka?.env?.[0]).toEqual({
      name: "POD_NAME",
      valueFrom: { fieldRef: { fieldPath: "metadata.name" } },
    });
    expect(kafka?.volumeMounts).toContainEqual({ name: "data", mountPath: "/var/lib/kafka/data" });
    expect(kafka?.readinessProbe?.exec?.command.join(" ")).toContain(
      "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server 127.0.0.1:9092",
    );
    expect(kafka?.livenessProbe?.tcpSocket?.port).toBe("kafka");
    expect(kafka?.startupProbe?.tcpSocket?.port).toBe("kafka");
    expect(kafka?.resources).toEqual({
      requests: { cpu: "500m", memory: "1Gi" },
      limits: { cpu: "2", memory: "2Gi" },
    });
    expect(kafka?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
  });

  it("creates the topics in a Job that waits for the broker, with '$' escaped from Kubernetes", () => {
    const job = kubernetes()
      .docs("events.yaml")
      .find((m) => m.kind === "Job");
    const pod = job?.spec.template.spec;
    expect(pod?.restartPolicy).toBe("OnFailure");
    const [topics] = pod?.containers ?? [];
    expect(topics?.image).toBe("apache/kafka:4.4.0");
    const script = topics?.command?.[2] ?? "";
    expect(script).toContain(
      "until /opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server events:9092",
    );
    expect(script).toContain(
      "--topic orders.billing.dlt-marks --partitions 1 --replication-factor 1 --config cleanup.policy=compact",
    );
    // Kubernetes reads "$(…)" in a command as a variable: every "$" is doubled.
    expect(script).toContain("tries=$$((tries + 1))");
    expect(script.replaceAll("$$", "")).not.toContain("$");
    expect(topics?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true });
  });

  it("waits for the broker and injects its bootstrap servers in a referencing service", () => {
    const [deployment] = kubernetes().docs("svc.yaml");
    const pod = deployment?.spec.template.spec;
    const wait = pod?.initContainers?.find((c) => c.name === "wait-for-events");
    expect(wait?.command?.slice(-3)).toEqual(["events", "9092", ""]);
    expect(pod?.containers[0]?.env).toContainEqual({
      name: "ConnectionStrings__events",
      value: "events:9092",
    });
  });

  it("lets the services, the topics Job and the broker itself reach the broker, and nothing else", () => {
    const policies = kubernetes().docs(NETWORK_POLICIES_FILE);
    const byName = new Map(policies.map((p) => [p.metadata.name, p]));
    const broker = byName.get("events-traffic");
    const peers = (broker?.spec.ingress ?? []).flatMap((rule) =>
      (rule.from ?? []).map((peer) => {
        const labels = (peer as { podSelector: { matchLabels: Record<string, string> } }).podSelector
          .matchLabels;
        return `${labels["app.kubernetes.io/name"]}:${rule.ports?.map((p) => p.port).join(",")}`;
      }),
    );
    expect(peers.sort()).toEqual(["events-topics:9092", "events:9092", "svc:9092"]);
    const job = byName.get("events-topics-traffic");
    expect(job?.spec.podSelector?.matchLabels).toMatchObject({ "app.kubernetes.io/name": "events-topics" });
    expect(job?.spec.ingress).toEqual([]);
    expect(job?.spec.egress).toEqual([
      {
        to: [
          {
            podSelector: {
              matchLabels: { "app.kubernetes.io/name": "events", "app.kubernetes.io/part-of": "shop" },
            },
          },
        ],
        ports: [{ protocol: "TCP", port: 9092 }],
      },
    ]);
  });
});
