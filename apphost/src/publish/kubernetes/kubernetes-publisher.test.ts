import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { buildApp } from "../../app.js";
import { NodeServiceResource } from "../../model/node-service.js";
import { deployPlan } from "../deploy-plan.js";
import { KUSTOMIZATION_FILE, SECRETS_FILE, renderKubernetes } from "./kubernetes-publisher.js";

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
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface Manifest {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    replicas?: number;
    volumeClaimTemplates?: unknown[];
    template?: { spec: { containers: Container[]; initContainers?: Container[] } };
  };
}

function render(model = buildApp()) {
  const files = renderKubernetes(deployPlan(model), SECRETS);
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
