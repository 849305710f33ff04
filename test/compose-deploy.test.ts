// The published Compose project, running: the service images are built here, the project from
// `publish --target compose` is brought up with docker-compose 1.29, entities posted through the
// sender's published port arrive exactly once, and the system recovers when the receiver's and
// then the broker's container crash (SIGKILL of the container's main process; the restart policy
// brings it back). It runs hardened as published (no capabilities, no-new-privileges, read-only
// root, limits, migrations in one-shot containers) and its health checks put no secret on a
// command line. Everything the project created is removed at the end, and checked to be gone.
// Traffic goes only to ports published on 127.0.0.1; the databases are read with `docker exec`.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repositoryRoot } from "@outbox/apphost/testing";
import { buildApp } from "../apphost.js";
import { buildServiceImages, serviceImageTag } from "../apphost/src/publish/service-images.js";
import { freePort } from "../apphost/src/runtime/ports.js";
import { eventually, getJson } from "./support/receiver.js";
import { useAvailableImages } from "./support/test-images.js";
import { postEntities } from "./support/system.js";

const run = promisify(execFile);
const project = `outbox-compose-test-${randomUUID().slice(0, 8)}`;

let dir: string;
let env: NodeJS.ProcessEnv;
let sender: string;
let receiver: string;
let up = false;

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
  const { stdout } = await run("docker", args, { timeout: 120_000 });
  return stdout.trim();
}

/** Containers of this project (any state), by compose service name. */
async function containers(): Promise<Array<{ id: string; service: string }>> {
  const out = await docker(
    "ps",
    "-a",
    "--filter",
    `label=com.docker.compose.project=${project}`,
    "--format",
    '{{.ID}} {{.Label "com.docker.compose.service"}}',
  );
  return out
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [id = "", service = ""] = line.split(" ");
      return { id, service };
    });
}

async function containerOf(service: string): Promise<string> {
  const found = (await containers()).find((c) => c.service === service);
  if (!found) throw new Error(`no container for ${service}`);
  return found.id;
}

async function health(id: string): Promise<string> {
  return docker("inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", id);
}

/** The one-shot migrations: one per service with a database. */
const MIGRATE = ["receiver-migrate", "sender-migrate"];

async function allHealthy(): Promise<void> {
  await eventually(
    "every long-running container of the project to be healthy, the migrations to have exited 0",
    async () => {
      const list = await containers();
      const running = list.filter((c) => !MIGRATE.includes(c.service));
      const states = await Promise.all(running.map((c) => health(c.id)));
      const migrations = list.filter((c) => MIGRATE.includes(c.service));
      const exits = await Promise.all(
        migrations.map((c) => docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", c.id)),
      );
      return running.length === 5 &&
        states.every((s) => s === "healthy") &&
        migrations.length === MIGRATE.length &&
        exits.every((e) => e === "exited 0")
        ? true
        : undefined;
    },
    420_000,
  );
}

/** Every process's command line on this host (containers' processes included), NUL → space. */
async function commandLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await fs.readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (text) lines.push(text.replaceAll("\0", " "));
  }
  return lines;
}

async function sql(service: string, database: string, query: string): Promise<string> {
  return (
    await compose("exec", "-T", service, "psql", "-U", "postgres", "-d", database, "-At", "-c", query)
  ).trim();
}

/** SIGKILL of the container's main process from the host: a crash, which the restart policy answers. */
async function crash(service: string): Promise<void> {
  const id = await containerOf(service);
  const pid = Number(await docker("inspect", "--format", "{{.State.Pid}}", id));
  expect(pid).toBeGreaterThan(1);
  const restartsBefore = Number(await docker("inspect", "--format", "{{.RestartCount}}", id));
  process.kill(pid, "SIGKILL");
  await eventually(
    `${service} to be restarted by its restart policy`,
    async () => {
      const restarts = Number(await docker("inspect", "--format", "{{.RestartCount}}", id));
      return restarts > restartsBefore ? true : undefined;
    },
    120_000,
  );
}

/** Every posted entity applied exactly once in each consumer group, every outbox row delivered. */
async function expectExactlyOnce(ids: string[]): Promise<void> {
  const list = ids.map((id) => `'${id}'`).join(",");
  await eventually(
    `all ${ids.length} entities applied and delivered`,
    async () => {
      const applied = Number(
        await sql("receiver-pg", "receiverdb", `SELECT count(*) FROM received_items WHERE id IN (${list})`),
      );
      const open = Number(
        await sql(
          "sender-pg",
          "senderdb",
          "SELECT count(*) FROM outbox_messages WHERE status <> 'delivered'",
        ),
      );
      return applied === ids.length && open === 0 ? true : undefined;
    },
    300_000,
  );
  const perMessage = await sql(
    "receiver-pg",
    "receiverdb",
    `SELECT count(*) FILTER (WHERE n <> 1) || ' ' || count(*) FROM
       (SELECT aggregate_id, count(*) AS n FROM inbox WHERE aggregate_id IN (${list}) GROUP BY aggregate_id) x`,
  );
  expect(perMessage).toBe(`0 ${ids.length}`);
  const audited = await sql(
    "receiver-pg",
    "receiverdb",
    `SELECT count(*) || ' ' || count(DISTINCT aggregate_id) FROM audit_log WHERE aggregate_id IN (${list})`,
  );
  expect(audited).toBe(`${ids.length} ${ids.length}`);
}

beforeAll(async () => {
  // The official infrastructure images where present or pullable, else `npm run images`' look-alikes
  // (APPHOST_IMAGE_POSTGRES / APPHOST_IMAGE_ARTEMIS in this process's environment, which Compose reads).
  await useAvailableImages();
  // The tag publish names: derived from the services' sources.
  const model = buildApp();
  await buildServiceImages({
    model,
    rootDir: repositoryRoot,
    base: "auto",
    prefix: "outbox-apphost",
    tag: await serviceImageTag(model, repositoryRoot),
    log: () => {},
  });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-compose-"));
  await run(
    process.execPath,
    [
      "--conditions=outbox-source",
      "--import",
      "tsx",
      "apphost/src/cli.ts",
      "publish",
      "--target",
      "compose",
      "--output",
      dir,
    ],
    { cwd: repositoryRoot, timeout: 60_000 },
  );
  const [senderPort, receiverPort] = [await freePort(), await freePort()];
  env = {
    ...process.env,
    COMPOSE_PROJECT_NAME: project,
    APPHOST_BIND_ADDRESS: "127.0.0.1",
    SENDER_HTTP_PORT: String(senderPort),
    RECEIVER_HTTP_PORT: String(receiverPort),
  };
  sender = `http://127.0.0.1:${senderPort}`;
  receiver = `http://127.0.0.1:${receiverPort}`;
  up = true;
  await compose("up", "-d", "--no-build");
  await allHealthy();
}, 1_200_000);

afterAll(async () => {
  if (up) await compose("down", "--volumes", "--remove-orphans", "--timeout", "20").catch(() => "");
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}, 300_000);

describe("the published Compose project", () => {
  it("publishes only the services' ports, on 127.0.0.1, and runs them as a non-root user", async () => {
    for (const { id, service } of await containers()) {
      const ports = await docker("port", id);
      if (service === "sender" || service === "receiver")
        expect(ports).toMatch(/^8080\/tcp -> 127\.0\.0\.1:\d+$/);
      else expect(ports, service).toBe("");
    }
    expect(await docker("inspect", "--format", "{{.Config.User}}", await containerOf("sender"))).toBe(
      "10001:10001",
    );
    const { status } = await getJson(`${receiver}/alive`);
    expect(status).toBe(200);
  });

  it("runs every container hardened as published, and keeps the owner credentials in the migrations", async () => {
    const list = await containers();
    expect(list.map((c) => c.service).sort()).toEqual([
      "broker",
      "receiver",
      "receiver-migrate",
      "receiver-pg",
      "sender",
      "sender-migrate",
      "sender-pg",
    ]);
    for (const { id, service } of list) {
      const [config] = JSON.parse(await docker("inspect", id)) as Array<{
        Config: { User: string; Env: string[] };
        HostConfig: {
          CapDrop: string[] | null;
          SecurityOpt: string[] | null;
          ReadonlyRootfs: boolean;
          Memory: number;
          PidsLimit: number | null;
        };
      }>;
      if (!config) throw new Error(`no inspect output for ${service}`);
      expect(config.HostConfig.CapDrop, service).toEqual(["ALL"]);
      expect(config.HostConfig.SecurityOpt, service).toEqual(["no-new-privileges:true"]);
      expect(config.HostConfig.ReadonlyRootfs, service).toBe(true);
      expect(config.HostConfig.Memory, service).toBeGreaterThan(0);
      expect(config.HostConfig.PidsLimit, service).toBeGreaterThan(0);
      const migrations = config.Config.Env.filter((e) => /^[A-Z_]+_MIGRATIONS_URI=/.test(e));
      expect(migrations.length > 0, service).toBe(MIGRATE.includes(service));
      if (service.endsWith("-pg")) expect(config.Config.User, service).toBe("999:999");
    }
  });

  it("checks the broker's health with no secret on any command line of this host", async () => {
    const secrets = Object.entries(
      Object.fromEntries(
        (await fs.readFile(path.join(dir, ".env"), "utf8"))
          .split("\n")
          .filter((l) => l.startsWith("SECRET_"))
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      ),
    );
    expect(secrets.length).toBeGreaterThan(5);
    // The published check itself ($$ is Compose's escape for $), run while every command line is read.
    const published = parse(await fs.readFile(path.join(dir, "docker-compose.yaml"), "utf8")) as {
      services: Record<string, { healthcheck?: { test: string[] } }>;
    };
    const [kind, text] = published.services.broker?.healthcheck?.test ?? [];
    expect(kind).toBe("CMD-SHELL");
    if (!text) throw new Error("no broker health check in the published file");
    const script = text.replaceAll("$$", "$");
    const check = compose("exec", "-T", "broker", "sh", "-c", script);
    let done = false;
    const finished = check.finally(() => (done = true));
    const leaks = new Set<string>();
    let sawCheck = false;
    while (!done) {
      for (const line of await commandLines()) {
        if (line.includes("check node --up")) sawCheck = true;
        for (const [name, value] of secrets)
          if (line.includes(value)) leaks.add(`${name} in: ${line.slice(0, 200)}`);
      }
    }
    await finished;
    // The precondition: the Artemis CLI's JVM was seen while it checked.
    expect(sawCheck).toBe(true);
    expect([...leaks]).toEqual([]);
  });

  it("applies posted entities exactly once", async () => {
    const created = await postEntities(sender, 30, "compose");
    await expectExactlyOnce(created.map((e) => e.id));
  });

  it("recovers from a receiver crash with messages waiting", async () => {
    const before = await postEntities(sender, 20, "compose-before-receiver-crash");
    await crash("receiver");
    // Posted while the receiver is down or restarting: they wait on the broker.
    const during = await postEntities(sender, 20, "compose-receiver-down");
    await allHealthy();
    await expectExactlyOnce([...before, ...during].map((e) => e.id));
  });

  it("recovers from a broker crash: the outbox holds what cannot be published, then delivers it once", async () => {
    await crash("broker");
    const during = await postEntities(sender, 20, "compose-broker-down");
    await allHealthy();
    const after = await postEntities(sender, 10, "compose-after-broker-crash");
    await expectExactlyOnce([...during, ...after].map((e) => e.id));
  });

  it("stops a service gracefully: SIGTERM reaches node as PID 1, which exits 0 well before the grace period", async () => {
    const id = await containerOf("sender");
    const started = Date.now();
    await compose("stop", "--timeout", "30", "sender");
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(await docker("inspect", "--format", "{{.State.ExitCode}}", id)).toBe("0");
  });

  it("leaves nothing behind after `docker-compose down --volumes`", async () => {
    await compose("down", "--volumes", "--remove-orphans", "--timeout", "20");
    up = false;
    expect(await containers()).toEqual([]);
    expect(
      await docker("volume", "ls", "-q", "--filter", `label=com.docker.compose.project=${project}`),
    ).toBe("");
    expect(
      await docker("network", "ls", "-q", "--filter", `label=com.docker.compose.project=${project}`),
    ).toBe("");
  });
});
