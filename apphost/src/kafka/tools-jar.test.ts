import { createServer, type Server } from "node:http";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureKafkaToolsJar, KAFKA_TOOLS_JARS } from "./tools-jar.js";

const JAR = KAFKA_TOOLS_JARS["4.4.0"];
/** The real jar, in the machine's cache once `npm run images` fetched it (no download in unit tests). */
const REAL = path.join(os.homedir(), ".cache/outbox-apphost/kafka/kafka-tools-4.4.0/kafka-tools-4.4.0.jar");

// A Maven repository on loopback serving `body` for every path, and an empty cache.
let cache: string;
let server: Server | undefined;
let requests: string[];

async function repository(body: Buffer): Promise<string> {
  requests = [];
  server = createServer((request, response) => {
    requests.push(request.url ?? "");
    response.end(body);
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server?.address() as AddressInfo).port}/maven2`;
}

beforeEach(async () => {
  cache = await mkdtemp(path.join(os.tmpdir(), "kafka-tools-jar-"));
});

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  await rm(cache, { recursive: true, force: true });
});

describe("ensureKafkaToolsJar", () => {
  it("refuses a download whose SHA-256 is not the pinned one, and keeps nothing", async () => {
    const url = await repository(Buffer.from("not the kafka-tools jar"));
    const env = { OUTBOX_APPHOST_CACHE: cache, OUTBOX_APPHOST_MAVEN_REPOSITORY: url };
    await expect(ensureKafkaToolsJar({ version: "4.4.0", env })).rejects.toThrow(/SHA-256 mismatch/);
    expect(requests).toEqual([`/maven2/${JAR?.path}`]);
    const dir = path.join(cache, "kafka", "kafka-tools-4.4.0");
    expect(existsSync(dir) ? await readdir(dir) : []).toEqual([]);
  });

  it("names a version without a pinned jar", async () => {
    await expect(
      ensureKafkaToolsJar({ version: "9.9.9", env: { OUTBOX_APPHOST_CACHE: cache } }),
    ).rejects.toThrow(/Kafka 9\.9\.9 has no pinned kafka-tools jar/);
  });

  it("keeps a download with the pinned SHA-256, then finds it without asking again", async () => {
    // `npm run images` (and so .ci/run) caches the real jar; without it this test cannot prove anything.
    expect(existsSync(REAL), `${REAL} is missing: run npm run images first`).toBe(true);
    const url = await repository(await readFile(REAL));
    const env = { OUTBOX_APPHOST_CACHE: cache, OUTBOX_APPHOST_MAVEN_REPOSITORY: url };
    const file = await ensureKafkaToolsJar({ version: "4.4.0", env });
    expect(file).toBe(path.join(cache, "kafka", "kafka-tools-4.4.0", "kafka-tools-4.4.0.jar"));
    expect((await readFile(file)).length).toBe(JAR?.bytes);
    expect(await ensureKafkaToolsJar({ version: "4.4.0", env })).toBe(file);
    expect(requests).toHaveLength(1);
  });
});
