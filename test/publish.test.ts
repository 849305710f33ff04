// `npm run apphost -- publish` end to end: the CLI writes the artifacts, docker-compose 1.29
// accepts the Compose project, and the Kubernetes manifests validate offline against the
// Kubernetes OpenAPI schemas (PyPI kubernetes-validate, strict: unknown fields are errors) with the
// restricted Pod Security profile's fields on every workload and the NetworkPolicies present. The
// output directory may be shared: links, foreign or readable secrets files are refused, the
// user's .gitignore is kept.
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { repositoryRoot } from "@outbox/apphost/testing";
import { validateManifests } from "./support/kubernetes-validate.js";

const run = promisify(execFile);

let dir: string;

interface Workload {
  kind: string;
  metadata: { name: string };
  spec: {
    podSelector?: { matchLabels?: Record<string, string> };
    template: {
      spec: {
        automountServiceAccountToken?: boolean;
        securityContext: { runAsNonRoot?: boolean; runAsUser: number; seccompProfile?: unknown };
        containers: Array<{ name: string; securityContext?: unknown; env?: unknown[] }>;
        initContainers?: Array<{ name: string; securityContext?: unknown; env?: unknown[] }>;
      };
    };
  };
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-publish-"));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function publish(target: string, output: string, ...extra: string[]) {
  return run(
    process.execPath,
    [
      "--conditions=outbox-source",
      "--import",
      "tsx",
      "apphost/src/cli.ts",
      "publish",
      "--target",
      target,
      "--output",
      output,
      ...extra,
    ],
    { cwd: repositoryRoot, timeout: 60_000 },
  );
}

function envValues(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

describe("publish --target compose", () => {
  it("writes a project docker-compose 1.29 accepts, with private generated secrets kept on republish", async () => {
    const output = path.join(dir, "compose");
    const { stdout } = await publish("compose", output, "--replicas", "sender=3,receiver=2");
    expect(stdout).toContain("docker-compose.yaml");
    const env = path.join(output, ".env");
    expect((await fs.stat(env)).mode & 0o777).toBe(0o600);
    const first = envValues(await fs.readFile(env, "utf8"));
    expect(
      Object.keys(first)
        .filter((k) => k.startsWith("SECRET_"))
        .sort(),
    ).toEqual([
      // The broker's admin and each service's own broker user.
      "SECRET_BROKER_PASSWORD",
      "SECRET_BROKER_RECEIVER_PASSWORD",
      "SECRET_BROKER_SENDER_PASSWORD",
      // Each database's owner (migrations) and runtime role.
      "SECRET_RECEIVERDB_APP_PASSWORD",
      "SECRET_RECEIVERDB_OWNER_PASSWORD",
      "SECRET_RECEIVER_ADMIN_TOKEN",
      "SECRET_RECEIVER_PG_PASSWORD",
      "SECRET_SENDERDB_APP_PASSWORD",
      "SECRET_SENDERDB_OWNER_PASSWORD",
      "SECRET_SENDER_ADMIN_TOKEN",
      "SECRET_SENDER_PG_PASSWORD",
    ]);
    const yaml = await fs.readFile(path.join(output, "docker-compose.yaml"), "utf8");
    for (const [key, value] of Object.entries(first))
      if (key.startsWith("SECRET_")) expect(yaml).not.toContain(value);

    // docker-compose resolves the file with the .env next to it: replicas and healthchecks survive.
    const { stdout: resolved } = await run("docker-compose", ["config"], { cwd: output, timeout: 60_000 });
    expect(resolved).toMatch(/replicas: 3/);
    expect(resolved).toContain("condition: service_healthy");
    // The services' own credentials, resolved from .env.
    expect(resolved).toContain(`amqp://sender:${first.SECRET_BROKER_SENDER_PASSWORD}@broker:61616`);
    expect(resolved).toContain(`ADMIN_TOKEN: ${first.SECRET_RECEIVER_ADMIN_TOKEN}`);
    const users = await fs.readFile(path.join(output, "artemis/broker/artemis-users.properties"), "utf8");
    expect(users).toMatch(/^receiver = ENC\(/m);
    expect(users).not.toContain(first.SECRET_BROKER_RECEIVER_PASSWORD);

    // Hardened: no capabilities, no new privileges, limits; migrations in a one-shot service that
    // docker-compose orders before the service, which itself has no owner credentials.
    expect(resolved.match(/no-new-privileges:true/g)?.length).toBe(7);
    expect(resolved).toContain("condition: service_completed_successfully");
    expect(resolved).toMatch(/mem_limit: /);
    expect(resolved).toMatch(/pids_limit: /);
    expect(resolved).not.toContain(":latest");
    const compose = (await import("yaml")).parse(resolved) as {
      services: Record<string, { environment?: Record<string, string>; cap_drop?: string[] }>;
    };
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.cap_drop, name).toEqual(["ALL"]);
      const migrations = Object.keys(service.environment ?? {}).filter((k) => k.endsWith("_MIGRATIONS_URI"));
      expect(migrations.length > 0, name).toBe(name.endsWith("-migrate"));
    }

    // Publishing again keeps the secrets: the volumes were initialised with them.
    await publish("compose", output);
    expect(envValues(await fs.readFile(env, "utf8"))).toMatchObject(
      Object.fromEntries(Object.entries(first).filter(([k]) => k.startsWith("SECRET_"))),
    );
  });

  it("keeps the user's own .gitignore lines and adds .env once", async () => {
    const output = path.join(dir, "gitignore");
    await fs.mkdir(output);
    await fs.writeFile(path.join(output, ".gitignore"), "notes/\n*.bak\n");
    await publish("compose", output);
    await publish("compose", output);
    expect(await fs.readFile(path.join(output, ".gitignore"), "utf8")).toBe("notes/\n*.bak\n.env\n");
  });

  it("refuses to write through a symbolic link planted in the output directory", async () => {
    const output = path.join(dir, "planted-link");
    const victim = path.join(dir, "victim.yaml");
    await fs.mkdir(output);
    await fs.writeFile(victim, "precious\n");
    await fs.symlink(victim, path.join(output, "docker-compose.yaml"));
    await expect(publish("compose", output)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(
        /Refusing to write through the symbolic link .*docker-compose\.yaml/,
      ) as unknown,
    });
    expect(await fs.readFile(victim, "utf8")).toBe("precious\n");
  });

  it("refuses to reuse a secrets file others could have seeded or read", async () => {
    const output = path.join(dir, "seeded");
    await fs.mkdir(output);
    const env = path.join(output, ".env");
    // Readable by others: its secrets may be known; it is neither used nor rewritten.
    await fs.writeFile(env, "SECRET_BROKER_PASSWORD=chosenByAnAttacker\n");
    await fs.chmod(env, 0o644);
    await expect(publish("compose", output)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/Refusing to use .*\.env: its mode is 0644/) as unknown,
    });
    expect(await fs.readFile(env, "utf8")).toBe("SECRET_BROKER_PASSWORD=chosenByAnAttacker\n");
    await expect(fs.access(path.join(output, "docker-compose.yaml"))).rejects.toThrow();
    if (process.getuid?.() === 0) {
      // Private, but planted by someone else.
      await fs.chmod(env, 0o600);
      await fs.chown(env, 65534, 65534);
      await expect(publish("compose", output)).rejects.toMatchObject({
        stderr: expect.stringMatching(/belongs to uid 65534, not to you/) as unknown,
      });
    }
  });

  it("warns when the output is inside a git work tree, and keeps .env out of it", async () => {
    const repo = path.join(dir, "repo");
    await fs.mkdir(repo);
    await run("git", ["init", "-q", repo]);
    const { stdout } = await publish("compose", path.join(repo, "deploy"));
    expect(stdout).toMatch(/WARNING: .* is inside the git work tree/);
    const { stdout: status } = await run("git", ["status", "--porcelain", "--untracked-files=all"], {
      cwd: repo,
    });
    expect(status).toContain("deploy/docker-compose.yaml");
    expect(status).not.toContain("deploy/.env");
  });

  it("refuses bad arguments with a message", async () => {
    await expect(publish("swarm", path.join(dir, "x"))).rejects.toMatchObject({
      stderr: expect.stringContaining("--target must be compose or kubernetes") as unknown,
    });
    await expect(publish("compose", path.join(dir, "x"), "--replicas", "broker=2")).rejects.toMatchObject({
      stderr: expect.stringContaining('"broker" is not a service') as unknown,
    });
  });
});

describe("publish --target kubernetes", () => {
  it("writes manifests that validate offline against the Kubernetes schemas (strict)", async () => {
    const output = path.join(dir, "kubernetes");
    await publish("kubernetes", output, "--replicas", "sender=3,receiver=3");
    const manifests = (await fs.readdir(output)).filter(
      (f) => f.endsWith(".yaml") && f !== "kustomization.yaml",
    );
    expect(manifests.sort()).toEqual([
      "broker.yaml",
      "network-policies.yaml",
      "receiver-pg.yaml",
      "receiver.yaml",
      "sender-pg.yaml",
      "sender.yaml",
    ]);
    const result = await validateManifests(output, manifests);
    const passed = result.stdout.split("\n").filter((l) => l.includes(" passed for resource "));
    // 3 StatefulSets, 3 ConfigMaps (broker configuration, each PostgreSQL's init script),
    // 2 Deployments, 5 Services, 7 NetworkPolicies (default deny, DNS, one per workload).
    expect(passed).toHaveLength(20);
    expect(result.stdout + result.stderr).not.toMatch(/failed|ERROR/);
    expect((await fs.stat(path.join(output, "secrets.env"))).mode & 0o777).toBe(0o600);

    // The restricted Pod Security profile's fields on every workload, pod and container.
    const all = [];
    for (const file of manifests)
      for (const doc of parseAllDocuments(await fs.readFile(path.join(output, file), "utf8")))
        all.push(doc.toJS() as Workload);
    const workloads = all.filter((m) => m.kind === "Deployment" || m.kind === "StatefulSet");
    expect(workloads).toHaveLength(5);
    for (const workload of workloads) {
      const pod = workload.spec.template.spec;
      const name = workload.metadata.name;
      expect(pod.automountServiceAccountToken, name).toBe(false);
      expect(pod.securityContext.runAsNonRoot, name).toBe(true);
      expect(Number.isInteger(pod.securityContext.runAsUser) && pod.securityContext.runAsUser > 0, name).toBe(
        true,
      );
      expect(pod.securityContext.seccompProfile, name).toEqual({ type: "RuntimeDefault" });
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect(container.securityContext, `${name}/${container.name}`).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
        const env = JSON.stringify(container.env ?? []);
        if (container.name !== "migrate")
          expect(env, `${name}/${container.name}`).not.toContain("_MIGRATIONS_URI");
      }
    }
    // NetworkPolicies: a default deny for the app's pods, and one per workload selecting its pods.
    const policies = all.filter((m) => m.kind === "NetworkPolicy");
    expect(policies.map((p) => p.metadata.name).sort()).toEqual([
      "broker-traffic",
      "outbox-apphost-default-deny",
      "outbox-apphost-dns",
      "receiver-pg-traffic",
      "receiver-traffic",
      "sender-pg-traffic",
      "sender-traffic",
    ]);
    for (const workload of workloads) {
      const policy = policies.find((p) => p.metadata.name === `${workload.metadata.name}-traffic`);
      expect(policy?.spec.podSelector?.matchLabels?.["app.kubernetes.io/name"]).toBe(workload.metadata.name);
    }
    expect(await fs.readFile(path.join(output, "kustomization.yaml"), "utf8")).toContain(
      "network-policies.yaml",
    );
  });
});
