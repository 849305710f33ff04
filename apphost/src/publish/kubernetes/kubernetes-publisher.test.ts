import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { buildApp } from "../../../../apphost.js";
import { NodeServiceResource } from "../../model/node-service.js";
import { deployPlan } from "../deploy-plan.js";
import {
  KUSTOMIZATION_FILE,
  NETWORK_POLICIES_FILE,
  SECRETS_FILE,
  renderKubernetes,
} from "./kubernetes-publisher.js";

const SECRETS = {
  SECRET_SENDER_PG_PASSWORD: "senderSecretValue1",
  SECRET_RECEIVER_PG_PASSWORD: "receiverSecretValue2",
  SECRET_BROKER_PASSWORD: "brokerSecretValue3",
  SECRET_BROKER_SENDER_PASSWORD: "brokerSenderValue6",
  SECRET_BROKER_RECEIVER_PASSWORD: "brokerReceiverValue7",
  SECRET_SENDER_ADMIN_TOKEN: "senderAdminToken8",
  SECRET_RECEIVER_ADMIN_TOKEN: "receiverAdminToken9",
  SECRET_SENDERDB_OWNER_PASSWORD: "senderdbOwnerValue10",
  SECRET_SENDERDB_APP_PASSWORD: "senderdbAppValue11",
  SECRET_RECEIVERDB_OWNER_PASSWORD: "receiverdbOwnerValue12",
  SECRET_RECEIVERDB_APP_PASSWORD: "receiverdbAppValue13",
};

interface Probe {
  httpGet?: { path: string; port: string };
  exec?: { command: string[] };
  tcpSocket?: { port: string };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string };
}
interface Container {
  name: string;
  image: string;
  securityContext?: SecurityContext;
  ports?: Array<{ hostPort?: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<Record<string, unknown> & { name: string }>;
  securityContext?: SecurityContext & { fsGroupChangePolicy?: string };
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
}
interface Peer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
}
interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: Array<{ protocol: string; port: number }>;
}
interface Manifest {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    replicas?: number;
    volumeClaimTemplates?: unknown[];
    template?: { spec: PodSpec };
    podSelector?: { matchLabels?: Record<string, string> };
    policyTypes?: string[];
    ingress?: Rule[];
    egress?: Rule[];
  };
}

/**
 * The Pod Security Standards' "restricted" profile (Kubernetes 1.33), checked field by field:
 * what `kubectl label ns … pod-security.kubernetes.io/enforce=restricted` would refuse.
 */
function restrictedViolations(pod: PodSpec): string[] {
  const problems: string[] = [];
  const allowedVolumes = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
  ];
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push("host namespaces");
  for (const volume of pod.volumes ?? []) {
    const type = Object.keys(volume).find((k) => k !== "name") ?? "";
    if (!allowedVolumes.includes(type)) problems.push(`volume ${volume.name} of type ${type}`);
  }
  const podContext = pod.securityContext ?? {};
  if (podContext.runAsUser === 0) problems.push("pod runAsUser 0");
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const ctx = c.securityContext ?? {};
    if (ctx.privileged) problems.push(`${c.name}: privileged`);
    if (ctx.allowPrivilegeEscalation !== false)
      problems.push(`${c.name}: allowPrivilegeEscalation not false`);
    if (!(ctx.capabilities?.drop ?? []).includes("ALL")) problems.push(`${c.name}: capabilities not dropped`);
    for (const cap of ctx.capabilities?.add ?? [])
      if (cap !== "NET_BIND_SERVICE") problems.push(`${c.name}: adds ${cap}`);
    if ((ctx.runAsNonRoot ?? podContext.runAsNonRoot) !== true)
      problems.push(`${c.name}: runAsNonRoot not true`);
    if (ctx.runAsUser === 0) problems.push(`${c.name}: runAsUser 0`);
    const seccomp = (ctx.seccompProfile ?? podContext.seccompProfile)?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
      problems.push(`${c.name}: seccomp ${seccomp}`);
    if ((c.ports ?? []).some((p) => p.hostPort !== undefined)) problems.push(`${c.name}: hostPort`);
  }
  return problems;
}

function render(model = buildApp()) {
  const files = renderKubernetes(deployPlan(model, { serviceTag: "src-0123456789ab" }), SECRETS);
  const manifests: Array<{ file: string; text: string; manifest: Manifest }> = [];
  for (const [file, text] of files) {
    if (!file.endsWith(".yaml") || file === KUSTOMIZATION_FILE) continue;
    for (const doc of parseAllDocuments(text)) {
      manifests.push({ file, text: doc.toString(), manifest: doc.toJS() as Manifest });
    }
  }
  const find = (kind: string, name: string) => {
    const found = manifests.find((m) => m.manifest.kind === kind && m.manifest.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name}`);
    return found.manifest;
  };
  return { files, manifests, find };
}

describe("Kubernetes publisher", () => {
  it("runs services as Deployments with replicas and probes from /alive and /health", () => {
    const model = buildApp();
    (model.resource("sender") as NodeServiceResource).withReplicas(3);
    const { find } = render(model);
    const sender = find("Deployment", "sender");
    expect(sender.spec?.replicas).toBe(3);
    expect(find("Deployment", "receiver").spec?.replicas).toBe(1);
    const [container] = sender.spec?.template?.spec.containers ?? [];
    expect(container?.readinessProbe?.httpGet).toEqual({ path: "/health", port: "http" });
    expect(container?.livenessProbe?.httpGet).toEqual({ path: "/alive", port: "http" });
    expect(container?.startupProbe?.httpGet).toEqual({ path: "/alive", port: "http" });
    expect(container?.resources?.requests).toBeDefined();
    expect(container?.resources?.limits).toBeDefined();
    find("Service", "sender");
  });

  it("keeps PostgreSQL and Artemis in StatefulSets with claims, and the broker configuration in a ConfigMap", () => {
    const { find } = render();
    for (const name of ["sender-pg", "receiver-pg", "broker"]) {
      const set = find("StatefulSet", name);
      expect(set.spec?.volumeClaimTemplates).toHaveLength(1);
      const [container] = set.spec?.template?.spec.containers ?? [];
      expect(container?.readinessProbe, name).toBeDefined();
      expect(container?.livenessProbe, name).toBeDefined();
      expect(container?.startupProbe, name).toBeDefined();
      expect(container?.resources?.limits, name).toBeDefined();
      find("Service", name);
    }
    expect(find("ConfigMap", "broker-config").data?.["broker.properties"]).toContain("IDCacheSize=100000");
  });

  it("waits for every dependency, then migrates, before a service starts", () => {
    const { find } = render();
    const init = find("Deployment", "sender").spec?.template?.spec.initContainers ?? [];
    expect(init.map((c) => c.name)).toEqual(["wait-for-sender-pg", "wait-for-broker", "migrate"]);
    expect(init[0]?.command?.slice(-3)).toEqual(["sender-pg", "5432", ""]);
    expect(init[1]?.command?.slice(-3)).toEqual(["broker", "61616", ""]);
    expect(init[2]?.command).toEqual(["node", "src/migrate-main.js"]);
  });

  it("passes the restricted Pod Security profile on every workload, with a read-only root and no token", () => {
    const { manifests } = render();
    const workloads = manifests.filter((m) => ["Deployment", "StatefulSet"].includes(m.manifest.kind));
    expect(workloads.map((w) => w.manifest.metadata.name).sort()).toEqual([
      "broker",
      "receiver",
      "receiver-pg",
      "sender",
      "sender-pg",
    ]);
    for (const { manifest } of workloads) {
      const name = manifest.metadata.name;
      const pod = manifest.spec?.template?.spec;
      if (!pod) throw new Error(`${name} has no pod template`);
      expect(restrictedViolations(pod), name).toEqual([]);
      // Set on the pod itself (not only per container), with a numeric user kubelet can check.
      expect(pod.securityContext?.runAsNonRoot, name).toBe(true);
      expect(pod.securityContext?.runAsUser, name).toBeGreaterThan(0);
      expect(pod.securityContext?.seccompProfile, name).toEqual({ type: "RuntimeDefault" });
      expect(pod.automountServiceAccountToken, name).toBe(false);
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect(c.securityContext?.readOnlyRootFilesystem, `${name}/${c.name}`).toBe(true);
        expect(c.securityContext?.capabilities, `${name}/${c.name}`).toEqual({ drop: ["ALL"] });
      }
    }
    const pod = (name: string) =>
      workloads.find((w) => w.manifest.metadata.name === name)?.manifest.spec?.template?.spec;
    expect(pod("sender-pg")?.securityContext?.runAsUser).toBe(999);
    expect(pod("sender-pg")?.securityContext?.fsGroupChangePolicy).toBe("OnRootMismatch");
    expect(pod("sender-pg")?.containers[0]?.volumeMounts?.map((m) => m.mountPath)).toEqual(
      expect.arrayContaining(["/var/run/postgresql", "/tmp"]),
    );
    expect(pod("broker")?.securityContext?.runAsUser).toBe(1001);
    expect(pod("sender")?.securityContext?.runAsUser).toBe(10001);
  });

  it("gives the database owner's credentials to the migrate init container only", () => {
    const { find } = render();
    for (const name of ["sender", "receiver"]) {
      const spec = find("Deployment", name).spec?.template?.spec;
      const main = spec?.containers[0]?.env ?? [];
      const text = JSON.stringify(main);
      expect(
        main.filter((e) => e.name.endsWith("_MIGRATIONS_URI")),
        name,
      ).toEqual([]);
      expect(text, name).not.toMatch(/OWNER_PASSWORD|_owner:/);
      const migrate = spec?.initContainers?.find((c) => c.name === "migrate");
      const db = `${name}db`;
      const owner = `postgresql://${db}_owner:$(SECRET_${db.toUpperCase()}_OWNER_PASSWORD)@${name}-pg:5432/${db}`;
      expect(migrate?.env).toEqual([
        {
          name: `SECRET_${db.toUpperCase()}_OWNER_PASSWORD`,
          valueFrom: {
            secretKeyRef: {
              name: "outbox-apphost-secrets",
              key: `SECRET_${db.toUpperCase()}_OWNER_PASSWORD`,
            },
          },
        },
        { name: `ConnectionStrings__${db}`, value: owner },
        { name: `${db.toUpperCase()}_MIGRATIONS_URI`, value: owner },
        { name: "NODE_ENV", value: "production" },
      ]);
    }
  });

  it("probes the broker without its password on a command line", () => {
    const { find } = render();
    const broker = find("StatefulSet", "broker").spec?.template?.spec.containers[0];
    const [shell, flag, script = ""] = broker?.readinessProbe?.exec?.command ?? [];
    expect([shell, flag]).toEqual(["/bin/sh", "-c"]);
    expect(script.match(/ARTEMIS_PASSWORD/g)).toHaveLength(1);
    expect(script).toMatch(/^printf -- '--password\\n%s\\n' "\$ARTEMIS_PASSWORD" \| /);
    expect(script).toMatch(/ @\/dev\/stdin > \/dev\/null$/);
  });

  it("denies all traffic by default and allows only the connections the model declares", () => {
    const model = buildApp();
    const db = model.addPostgres("billing-pg").addDatabase("billingdb");
    const broker = model.resource("broker");
    model
      .addNodeService("billing", "billing-service")
      .withReference(db)
      .waitFor(db)
      .waitFor(broker)
      .withEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability:4318")
      .withHttpEndpoint()
      .withHttpHealthCheck("/health");
    const files = renderKubernetes(deployPlan(model, { serviceTag: "t1" }), {
      ...SECRETS,
      SECRET_BILLING_PG_PASSWORD: "a1",
      SECRET_BILLINGDB_OWNER_PASSWORD: "a2",
      SECRET_BILLINGDB_APP_PASSWORD: "a3",
      SECRET_BILLING_ADMIN_TOKEN: "a4",
    });
    expect(files.get(KUSTOMIZATION_FILE)).toContain(NETWORK_POLICIES_FILE);
    const policies = parseAllDocuments(files.get(NETWORK_POLICIES_FILE) ?? "").map(
      (d) => d.toJS() as Manifest,
    );
    const policy = (name: string) => {
      const found = policies.find((p) => p.metadata.name === name);
      if (!found) throw new Error(`no NetworkPolicy ${name}`);
      return found.spec ?? {};
    };
    const pods = (name: string) => ({
      podSelector: {
        matchLabels: { "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "outbox-apphost" },
      },
    });
    const tcp = (port: number) => [{ protocol: "TCP", port }];

    const deny = policy("outbox-apphost-default-deny");
    expect(deny).toEqual({
      podSelector: { matchLabels: { "app.kubernetes.io/part-of": "outbox-apphost" } },
      policyTypes: ["Ingress", "Egress"],
    });
    expect(policy("outbox-apphost-dns").egress?.[0]?.to).toEqual([
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
        podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
      },
    ]);
    // The sender: its database and the broker, nothing else; anyone may reach its HTTP port.
    expect(policy("sender-traffic").podSelector).toEqual(pods("sender").podSelector);
    expect(policy("sender-traffic").egress).toEqual([
      { to: [pods("sender-pg")], ports: tcp(5432) },
      { to: [pods("broker")], ports: tcp(61616) },
    ]);
    expect(policy("sender-traffic").ingress).toEqual([{ ports: tcp(8080) }]);
    // Each database accepts its own service only; the broker every service that uses it.
    expect(policy("sender-pg-traffic").ingress).toEqual([{ from: [pods("sender")], ports: tcp(5432) }]);
    expect(policy("sender-pg-traffic").egress).toEqual([]);
    expect(policy("receiver-pg-traffic").ingress).toEqual([{ from: [pods("receiver")], ports: tcp(5432) }]);
    expect(policy("broker-traffic").ingress).toEqual([
      { from: [pods("sender"), pods("receiver"), pods("billing")], ports: tcp(61616) },
    ]);
    // From the model: billing waits for the broker without a reference, and exports OTLP.
    expect(policy("billing-pg-traffic").ingress).toEqual([{ from: [pods("billing")], ports: tcp(5432) }]);
    expect(policy("billing-traffic").egress).toEqual([
      { to: [pods("billing-pg")], ports: tcp(5432) },
      { to: [pods("broker")], ports: tcp(61616) },
      { ports: tcp(4318) },
    ]);
  });

  it("writes no secret value into any manifest: Deployments use secretKeyRef and $(NAME)", () => {
    const { files, manifests, find } = render();
    for (const { file, text, manifest } of manifests) {
      for (const value of Object.values(SECRETS))
        expect(text, `${manifest.kind} in ${file}`).not.toContain(value);
    }
    expect(manifests.some((m) => m.manifest.kind === "Secret")).toBe(false);
    // The broker's users file (hashed) is a kustomize-generated Secret, mounted beside its ConfigMap.
    expect(files.get(KUSTOMIZATION_FILE)).toContain("broker-users");
    expect(files.get("artemis/broker/artemis-users.properties")).toMatch(/^sender = ENC\(/m);
    expect(find("ConfigMap", "broker-config").data?.["artemis-users.properties"]).toBeUndefined();
    for (const value of Object.values(SECRETS)) expect(files.get(SECRETS_FILE)).toContain(value);
    const env = find("Deployment", "sender").spec?.template?.spec.containers[0]?.env ?? [];
    const names = env.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect(env[0]).toEqual({
      name: "SECRET_SENDERDB_APP_PASSWORD",
      valueFrom: { secretKeyRef: { name: "outbox-apphost-secrets", key: "SECRET_SENDERDB_APP_PASSWORD" } },
    });
    expect(env.find((e) => e.name === "ConnectionStrings__senderdb")?.value).toBe(
      "postgresql://senderdb_app:$(SECRET_SENDERDB_APP_PASSWORD)@sender-pg:5432/senderdb",
    );
    expect(env.find((e) => e.name === "ConnectionStrings__broker")?.value).toBe(
      "amqp://sender:$(SECRET_BROKER_SENDER_PASSWORD)@broker:61616",
    );
    expect(env.find((e) => e.name === "ADMIN_TOKEN")?.value).toBe("$(SECRET_SENDER_ADMIN_TOKEN)");
    expect(files.get(KUSTOMIZATION_FILE)).toContain("secretGenerator");
  });
});
