import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { Wait, type StartedTestContainer } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artemisPasswordMatches } from "../apphost/src/artemis/instance.js";
import { configureRyuk } from "../apphost/src/providers/container/container-runtime.js";
import {
  LABELS,
  removeContainers,
  removeVolumes,
  runtimeClient,
} from "../apphost/src/providers/container/docker-objects.js";
import { LOCAL_IMAGES } from "../apphost/src/providers/container/images.js";
import { LoopbackGenericContainer } from "../apphost/src/providers/container/loopback.js";
import { useAvailableImages } from "./support/test-images.js";
import { linesWithSecrets, watchCommandLines } from "./support/command-lines.js";

/**
 * The Artemis look-alike under test: the shared tag, or (APPHOST_TEST_ARTEMIS_LOOKALIKE) one built
 * from a branch's changed context without replacing the image other runs on this machine use.
 */
const ARTEMIS_IMAGE = process.env.APPHOST_TEST_ARTEMIS_LOOKALIKE ?? LOCAL_IMAGES.artemis;

// The look-alike images `npm run images` builds must keep the official images' contract, since the
// container provider is written against that contract (see the Dockerfiles and entry points of
// docker-library/postgres and apache/artemis's artemis-docker/): variables, paths, volumes, ports,
// first-start behaviour and log lines.

let scratch: string | undefined;
const labels = () => ({ [LABELS.stateDir]: scratch ?? "", [LABELS.resource]: "image-contract" });

beforeAll(async () => {
  await configureRyuk(() => {});
  await useAvailableImages();
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-images-"));
});

afterAll(async () => {
  if (!scratch) return;
  await removeContainers(scratch);
  await removeVolumes(scratch);
  await fs.rm(scratch, { recursive: true, force: true });
});

type ImageInspectInfo = Awaited<
  ReturnType<
    ReturnType<Awaited<ReturnType<typeof runtimeClient>>["container"]["dockerode"]["getImage"]>["inspect"]
  >
>;

async function imageConfig(image: string) {
  const docker = (await runtimeClient()).container.dockerode;
  // StopSignal is part of an image's config, though dockerode's types leave it out.
  return (await docker.getImage(image).inspect()).Config as ImageInspectInfo["Config"] & {
    StopSignal?: string;
  };
}

async function volume(name: string): Promise<string> {
  const docker = (await runtimeClient()).container.dockerode;
  const full = `outbox-apphost-image-contract-${name}-${path.basename(scratch ?? "")}`.toLowerCase();
  await docker.createVolume({ Name: full, Labels: labels() });
  return full;
}

async function logsOf(container: StartedTestContainer): Promise<string> {
  const stream = await container.logs();
  let text = "";
  stream.on("data", (chunk: Buffer | string) => (text += chunk.toString()));
  await new Promise((resolve) => setTimeout(resolve, 300));
  stream.destroy();
  return text;
}

describe("local postgres image (contract of the official postgres image)", () => {
  it("declares the official variables, volume, port, stop signal, entry point and command", async () => {
    const config = await imageConfig(LOCAL_IMAGES.postgres);
    expect(config.Env).toContain("PGDATA=/var/lib/postgresql/data");
    expect(Object.keys(config.Volumes ?? {})).toEqual(["/var/lib/postgresql/data"]);
    expect(Object.keys(config.ExposedPorts ?? {})).toEqual(["5432/tcp"]);
    expect(config.StopSignal).toBe("SIGINT");
    expect(config.Entrypoint).toEqual(["docker-entrypoint.sh"]);
    expect(config.Cmd).toEqual(["postgres"]);
  });

  it("initialises from POSTGRES_* on the first start, passes arguments to postgres, and keeps the data", async () => {
    const data = await volume("pg");
    const start = () =>
      new LoopbackGenericContainer(LOCAL_IMAGES.postgres)
        .withEnvironment({ POSTGRES_USER: "owner", POSTGRES_PASSWORD: "s3cret", POSTGRES_DB: "shop" })
        .withCommand(["postgres", "-c", "max_connections=42"])
        .withExposedPorts(5432)
        .withBindMounts([{ source: data, target: "/var/lib/postgresql/data" }])
        .withLabels(labels())
        // The official image logs this line twice on the first start (temporary server, then the real one).
        .withWaitStrategy(Wait.forLogMessage("database system is ready to accept connections", 2))
        .start();
    const first = await start();
    expect(await logsOf(first)).toContain("PostgreSQL init process complete; ready for start up.");
    const connect = async (container: StartedTestContainer, password: string) => {
      const client = new pg.Client({
        host: "127.0.0.1",
        port: container.getMappedPort(5432),
        user: "owner",
        password,
        database: "shop",
      });
      await client.connect();
      return client;
    };
    const client = await connect(first, "s3cret");
    try {
      expect((await client.query("SHOW max_connections")).rows[0]).toEqual({ max_connections: "42" });
      await client.query("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)");
    } finally {
      await client.end();
    }
    // Password authentication over TCP (the official image's pg_hba line), not trust.
    await expect(connect(first, "wrong")).rejects.toThrow(/password authentication failed/);
    await first.stop({ remove: true });

    const second = await new LoopbackGenericContainer(LOCAL_IMAGES.postgres)
      .withEnvironment({ POSTGRES_PASSWORD: "ignored-now" })
      .withExposedPorts(5432)
      .withBindMounts([{ source: data, target: "/var/lib/postgresql/data" }])
      .withLabels(labels())
      .withWaitStrategy(Wait.forLogMessage("database system is ready to accept connections"))
      .start();
    expect(await logsOf(second)).toContain(
      "PostgreSQL Database directory appears to contain a database; Skipping initialization",
    );
    const again = await connect(second, "s3cret");
    try {
      expect((await again.query("SELECT v FROM kept")).rows).toEqual([{ v: 7 }]);
    } finally {
      await again.end();
      await second.stop({ remove: true });
    }
  });

  it("refuses to initialise without POSTGRES_PASSWORD", async () => {
    const docker = (await runtimeClient()).container.dockerode;
    const container = await docker.createContainer({ Image: LOCAL_IMAGES.postgres, Labels: labels() });
    try {
      await container.start();
      const exit = (await container.wait()) as { StatusCode: number };
      expect(exit.StatusCode).not.toBe(0);
      const output = (await container.logs({ stdout: true, stderr: true })).toString();
      expect(output).toContain("superuser password is not specified");
    } finally {
      await container.remove({ force: true, v: true });
    }
  });
});

describe("local artemis image (contract of the official apache/artemis image)", () => {
  it("declares the official variables, volume, user, working directory, ports, entry point and command", async () => {
    const config = await imageConfig(ARTEMIS_IMAGE);
    expect(config.Env).toEqual(
      expect.arrayContaining(["ARTEMIS_USER=artemis", "ANONYMOUS_LOGIN=false", "EXTRA_ARGS="]),
    );
    // Deliberately unlike the official image: no well-known default password, no console and
    // Jolokia on every interface with relaxed origin checks.
    expect(config.Env?.some((e) => e.startsWith("ARTEMIS_PASSWORD="))).toBe(false);
    expect(config.Env?.join("\n")).not.toMatch(/0\.0\.0\.0|relax-jolokia/);
    expect(Object.keys(config.Volumes ?? {})).toEqual(["/var/lib/artemis-instance"]);
    expect(config.WorkingDir).toBe("/var/lib/artemis-instance");
    expect(config.User).toBe("artemis");
    expect(Object.keys(config.ExposedPorts ?? {}).sort()).toEqual(
      ["1883/tcp", "5445/tcp", "5672/tcp", "61613/tcp", "61616/tcp", "8161/tcp"].sort(),
    );
    expect(config.Entrypoint).toEqual(["/docker-run.sh"]);
    expect(config.Cmd).toEqual(["run"]);
  });

  it("creates the instance from ARTEMIS_* and EXTRA_ARGS once, copies etc-override over etc, and runs `artemis <command>`", async () => {
    const data = await volume("artemis");
    // Characters the create step's argument file must carry through unchanged.
    const password = `pw ${randomBytes(12).toString("hex")} "q" \\b #c 'd'`;
    const start = () =>
      new LoopbackGenericContainer(ARTEMIS_IMAGE)
        .withEnvironment({
          ARTEMIS_USER: "admin",
          ARTEMIS_PASSWORD: password,
          EXTRA_ARGS: "--nio --no-autotune --no-web",
        })
        .withCopyContentToContainer([
          {
            content: "# from etc-override\nmaxDiskUsage=-1\n",
            target: "/var/lib/artemis-instance/etc-override/broker.properties",
          },
        ])
        .withExposedPorts(61616)
        .withBindMounts([{ source: data, target: "/var/lib/artemis-instance" }])
        .withLabels(labels())
        .withWaitStrategy(Wait.forLogMessage("AMQ221007"))
        .withStartupTimeout(180_000)
        .start();
    const watch = watchCommandLines();
    const first = await start().finally(() => watch.stop());
    const commands = await watch.stop();
    // The host sees the container's processes: the create step was sampled, without the password.
    expect(commands.some((c) => /\bArtemis create\b/.test(c) && c.includes("--user admin"))).toBe(true);
    expect(linesWithSecrets(commands, [password])).toEqual([]);
    const firstLogs = await logsOf(first);
    expect(firstLogs).toContain("copying file to etc folder: broker.properties");
    const etc = await first.exec([
      "cat",
      "etc/broker.properties",
      "etc/artemis-users.properties",
      "etc/login.config",
    ]);
    expect(etc.output).toContain("# from etc-override");
    // (artemis create ends the users file without a newline: the next file's text follows.)
    const stored = /^admin ?= ?(ENC\([^)]*\))/m.exec(etc.output)?.[1] ?? "";
    expect(artemisPasswordMatches(stored, password)).toBe(true);
    // Login required unless ANONYMOUS_LOGIN=true: no guest login module.
    expect(etc.output).not.toContain("GuestLoginModule");
    await first.stop({ remove: true });

    const second = await start();
    expect(await logsOf(second)).toContain("skipping broker instance creation; instance already exists");
    await second.stop({ remove: true });
  });

  it("refuses to create an instance without ARTEMIS_PASSWORD", async () => {
    const docker = (await runtimeClient()).container.dockerode;
    const container = await docker.createContainer({ Image: ARTEMIS_IMAGE, Labels: labels() });
    try {
      await container.start();
      // An image with a default password would start a broker instead of exiting.
      const exit = (await Promise.race([
        container.wait(),
        new Promise((_, reject) =>
          setTimeout(
            () => reject(new Error("the container did not exit: it started without a password")),
            60_000,
          ),
        ),
      ])) as { StatusCode: number };
      expect(exit.StatusCode).not.toBe(0);
      const output = (await container.logs({ stdout: true, stderr: true })).toString();
      expect(output).toContain("ARTEMIS_PASSWORD is not set");
    } finally {
      await container.remove({ force: true, v: true });
    }
  });
});
