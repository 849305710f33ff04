import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureKafkaDistribution, kafkaHome, kafkaJars } from "../apphost/src/kafka/distribution.js";
import { DEFAULT_KAFKA_VERSION } from "../apphost/src/kafka/jars.js";

// The Kafka jars are fetched once into the cache, each checked against its pinned SHA-256. Served
// here by a local Maven-layout server made from the machine's cached copy (no outside network):
// one altered byte must make the whole fetch fail and leave nothing in the cache.

const cached = kafkaHome(
  process.env.OUTBOX_APPHOST_CACHE ?? path.join(os.homedir(), ".cache", "outbox-apphost"),
  DEFAULT_KAFKA_VERSION,
);
const jars = kafkaJars(DEFAULT_KAFKA_VERSION);
const corrupted = jars.find((j) => j.path.includes("/kafka-clients/"))!;

/** Serves `<repository path>` from the cached libs/ (by file name); `corrupt` alters one jar's first byte. */
function repositoryServer(corrupt: () => boolean): http.Server {
  return http.createServer((req, res) => {
    const jar = jars.find((j) => `/maven2/${j.path}` === req.url);
    if (!jar) {
      res.writeHead(404).end();
      return;
    }
    const file = path.join(cached, "libs", path.basename(jar.path));
    res.writeHead(200, { "content-length": String(jar.bytes) });
    if (jar === corrupted && corrupt()) {
      void fs.readFile(file).then((bytes) => {
        bytes[0] = bytes[0]! ^ 0xff;
        res.end(bytes);
      });
      return;
    }
    createReadStream(file).pipe(res);
  });
}

describe("Kafka jars: fetched once, checked against pinned SHA-256", () => {
  let server: http.Server;
  let repository: string;
  let corrupt = false;
  let cacheDir: string;

  beforeAll(async () => {
    // The machine-wide cache (CI fetches it with apphost/src/kafka/fetch-cli.ts) is the source.
    await ensureKafkaDistribution();
    server = repositoryServer(() => corrupt);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    repository = `http://127.0.0.1:${(server.address() as AddressInfo).port}/maven2`;
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-kafka-cache-"));
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it("refuses a corrupted jar and keeps nothing", async () => {
    corrupt = true;
    await expect(ensureKafkaDistribution({ cacheDir, repository })).rejects.toThrow(
      new RegExp(`SHA-256 mismatch for .*${path.basename(corrupted.path)}`),
    );
    // Neither the version directory nor a temporary one is left behind.
    expect(await fs.readdir(path.join(cacheDir, "kafka"))).toEqual([]);
  });

  it("downloads intact jars once, with progress, and then serves them from the cache", async () => {
    corrupt = false;
    const lines: string[] = [];
    const progress: number[] = [];
    const first = await ensureKafkaDistribution({
      cacheDir,
      repository,
      log: (line) => lines.push(line),
      progress: (event) => progress.push(event.receivedBytes),
    });
    expect(first.source).toBe("https");
    expect(await fs.readdir(first.libs)).toHaveLength(jars.length);
    expect(lines.some((l) => l.includes("100% of"))).toBe(true);
    expect(progress.at(-1)).toBe(jars.reduce((sum, j) => sum + j.bytes, 0));

    const second = await ensureKafkaDistribution({ cacheDir, repository: "http://127.0.0.1:1/unused" });
    expect(second).toMatchObject({ source: "cache", home: first.home });
  });

  it("names the pinned versions for a version it has no pins for", async () => {
    await expect(ensureKafkaDistribution({ cacheDir, version: "3.9.0" })).rejects.toThrow(
      /Kafka 3\.9\.0 has no pinned jar list \(pinned: 4\.4\.0\)/,
    );
  });
});
