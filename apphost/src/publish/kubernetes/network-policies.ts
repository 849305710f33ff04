// NetworkPolicies for the published manifests: every pod of the app denies all traffic in and out
// unless a rule below lets it through, and the rules come from the model alone:
//   - a service reaches what it references or waits for (its databases' servers, the broker,
//     other services' HTTP ports) and those accept it, on that port only;
//   - the services' HTTP ports and the containers' HTTP(S) endpoints accept anyone (the Service is
//     how users and ingresses reach them); a container's other ports only its declared clients;
//   - every pod may ask the cluster DNS (kube-system) for names;
//   - a service with OTEL_EXPORTER_OTLP_ENDPOINT may reach that port (the collector is outside the
//     model, so anywhere).
//   - a Kafka pod reaches itself (its readiness check goes through its advertised name) and its
//     topics Job reaches it.
// The default deny selects the app's own pods (app.kubernetes.io/part-of), not the whole
// namespace, so applying the output never cuts off other workloads sharing the namespace.

import {
  KAFKA_PORT,
  type Connection,
  type ContainerPlan,
  type DeployPlan,
  type KafkaPlan,
  type ServicePlan,
} from "../deploy-plan.js";

type Manifest = Record<string, unknown>;
type Labels = (plan: DeployPlan, name: string) => Record<string, string>;

/** The headless Service that names a Kafka pod (the StatefulSet's serviceName). */
export function kafkaHeadlessServiceName(kafka: KafkaPlan): string {
  return `${kafka.name}-headless`;
}

/** The Job that creates a Kafka resource's topics (its pods carry this name as their label). */
export function kafkaTopicsJobName(kafka: KafkaPlan): string {
  return `${kafka.name}-topics`;
}

/** Where the cluster DNS runs: CoreDNS keeps kube-dns's label in kubeadm, kind, EKS, GKE and AKS. */
const DNS_PEER = {
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
  podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
};

export function networkPolicies(plan: DeployPlan, labels: Labels): Manifest[] {
  const partOf = { "app.kubernetes.io/part-of": plan.app };
  const pods = (name: string) => ({
    podSelector: { matchLabels: { "app.kubernetes.io/name": name, ...partOf } },
  });
  const policy = (name: string, spec: Manifest): Manifest => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, labels: labels(plan, name) },
    spec,
  });
  const known = new Set(plan.resources.map((r) => r.name));
  // Every workload that connects to others: Node apps and containers.
  const services = plan.resources.filter(
    (r): r is ServicePlan | ContainerPlan => r.kind === "service" || r.kind === "container",
  );
  for (const service of services)
    for (const connection of service.connects)
      if (!known.has(connection.resource))
        throw new Error(`"${service.name}" connects to "${connection.resource}", which is not published`);

  const manifests: Manifest[] = [
    policy(`${plan.app}-default-deny`, {
      podSelector: { matchLabels: partOf },
      policyTypes: ["Ingress", "Egress"],
    }),
    policy(`${plan.app}-dns`, {
      podSelector: { matchLabels: partOf },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [DNS_PEER],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    }),
  ];

  for (const resource of plan.resources) {
    // Who connects to this resource, and on which ports.
    const clients = services.flatMap((s) =>
      s.connects.filter((c) => c.resource === resource.name).map((c) => ({ client: s.name, port: c.port })),
    );
    const ingress: Manifest[] = [];
    const open = openPorts(resource);
    for (const port of unique(clients.map((c) => c.port))) {
      // Open ports accept everyone below: no per-client rule needed for them.
      if (open.includes(port)) continue;
      ingress.push({
        from: unique(clients.filter((c) => c.port === port).map((c) => c.client)).map(pods),
        ports: [{ protocol: "TCP", port }],
      });
    }
    const egress: Manifest[] = [];
    for (const port of open) ingress.push({ ports: [{ protocol: "TCP", port }] });
    if (resource.kind === "kafka") {
      const kafkaPort = [{ protocol: "TCP", port: KAFKA_PORT }];
      const job = kafkaTopicsJobName(resource);
      ingress.push({ from: [pods(resource.name), pods(job)], ports: kafkaPort });
      egress.push({ to: [pods(resource.name)], ports: kafkaPort });
      manifests.push(
        policy(`${job}-traffic`, {
          podSelector: pods(job).podSelector,
          policyTypes: ["Ingress", "Egress"],
          ingress: [],
          egress: [{ to: [pods(resource.name)], ports: kafkaPort }],
        }),
      );
    }
    if (resource.kind === "service" || resource.kind === "container") {
      for (const connection of groupByResource(resource.connects))
        egress.push({
          to: [pods(connection.resource)],
          ports: connection.ports.map((port) => ({ protocol: "TCP", port })),
        });
      const otlp = otlpPort(resource);
      if (otlp !== undefined) egress.push({ ports: [{ protocol: "TCP", port: otlp }] });
    }
    manifests.push(
      policy(`${resource.name}-traffic`, {
        podSelector: pods(resource.name).podSelector,
        policyTypes: ["Ingress", "Egress"],
        // An empty list allows nothing: the default deny stands for that direction.
        ingress,
        egress,
      }),
    );
  }
  return manifests;
}

/** Ports anyone may reach: a Node app's HTTP port, a container's HTTP(S) endpoints. */
function openPorts(resource: DeployPlan["resources"][number]): number[] {
  if (resource.kind === "service") return resource.port === undefined ? [] : [resource.port];
  if (resource.kind === "container")
    return resource.endpoints
      .filter((e) => e.scheme === "http" || e.scheme === "https")
      .map((e) => e.targetPort);
  return [];
}

/** The port of the workload's OTLP endpoint, when it has a literal OTEL_EXPORTER_OTLP_ENDPOINT. */
export function otlpPort(service: Pick<ServicePlan, "name" | "environment">): number | undefined {
  const variable = service.environment.find((e) => e.name === "OTEL_EXPORTER_OTLP_ENDPOINT");
  if (!variable) return undefined;
  const [text, ...rest] = variable.value;
  if (typeof text !== "string" || rest.length > 0)
    throw new Error(
      `${service.name}: OTEL_EXPORTER_OTLP_ENDPOINT must be a literal URL to publish a NetworkPolicy for it`,
    );
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${service.name}: OTEL_EXPORTER_OTLP_ENDPOINT is not a URL: "${text}"`);
  }
  if (url.port !== "") return Number(url.port);
  if (url.protocol === "https:") return 443;
  if (url.protocol === "http:") return 80;
  throw new Error(`${service.name}: OTEL_EXPORTER_OTLP_ENDPOINT has no port: "${text}"`);
}

function groupByResource(connections: Connection[]): Array<{ resource: string; ports: number[] }> {
  const byResource = new Map<string, number[]>();
  for (const c of connections)
    byResource.set(c.resource, unique([...(byResource.get(c.resource) ?? []), c.port]));
  return [...byResource].map(([resource, ports]) => ({ resource, ports }));
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
