// NetworkPolicies for the published manifests: every pod of the app denies all traffic in and out
// unless a rule below lets it through, and the rules come from the model alone:
//   - a service reaches what it references or waits for (its databases' servers, the broker,
//     other services' HTTP ports) and those accept it, on that port only;
//   - the services' HTTP ports accept anyone (the Service is how users and ingresses reach them);
//   - every pod may ask the cluster DNS (kube-system) for names;
//   - a service with OTEL_EXPORTER_OTLP_ENDPOINT may reach that port (the collector is outside the
//     model, so anywhere).
// The default deny selects the app's own pods (app.kubernetes.io/part-of), not the whole
// namespace, so applying the output never cuts off other workloads sharing the namespace.

import { type Connection, type DeployPlan, type ServicePlan } from "../deploy-plan.js";

type Manifest = Record<string, unknown>;
type Labels = (plan: DeployPlan, name: string) => Record<string, string>;

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
  const services = plan.resources.filter((r): r is ServicePlan => r.kind === "service");
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
    for (const port of unique(clients.map((c) => c.port))) {
      // A service's HTTP port accepts everyone below: no per-client rule needed for it.
      if (resource.kind === "service" && port === resource.port) continue;
      ingress.push({
        from: unique(clients.filter((c) => c.port === port).map((c) => c.client)).map(pods),
        ports: [{ protocol: "TCP", port }],
      });
    }
    const egress: Manifest[] = [];
    if (resource.kind === "service") {
      if (resource.port !== undefined) ingress.push({ ports: [{ protocol: "TCP", port: resource.port }] });
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

/** The port of the service's OTLP endpoint, when it has a literal OTEL_EXPORTER_OTLP_ENDPOINT. */
export function otlpPort(service: ServicePlan): number | undefined {
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
