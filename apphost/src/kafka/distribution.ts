// Finds or downloads (once, into the per-user AppHost cache) the jars of an Apache Kafka broker.
//
// Kafka publishes no broker distribution on Maven Central, but every jar of one is there: the
// pinned list in jars.ts. Each jar is downloaded over HTTPS and checked against its pinned SHA-256
// before it is kept. The jars go to a temporary directory beside the cache entry, which is renamed
// into place only when complete, so a killed download never leaves half a broker and a complete one
// is never removed; a lock file keeps concurrent AppHosts from downloading twice.

import { createHash } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { acquireLock, artemisCacheDir, type DownloadProgress } from "../artemis/distribution.js";
import { DEFAULT_KAFKA_VERSION, KAFKA_JARS, type PinnedJar } from "./jars.js";

export interface KafkaDistribution {
  /** The directory holding `libs/`, every jar of the broker. */
  home: string;
  /** `<home>/libs`: the broker's class path is `<libs>/*`. */
  libs: string;
  version: string;
  source: "cache" | "https";
}

export interface EnsureKafkaOptions {
  version?: string;
  /** The AppHost cache (default: $OUTBOX_APPHOST_CACHE, else ~/.cache/outbox-apphost). */
  cacheDir?: string;
  /** A Maven repository URL (default: $OUTBOX_APPHOST_MAVEN_REPOSITORY, else Maven Central). */
  repository?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  progress?: (event: DownloadProgress) => void;
  signal?: AbortSignal;
}

const DEFAULT_REPOSITORY = "https://repo.maven.apache.org/maven2";

/** The pinned jars of a version, or a clear error for a version without pins. */
export function kafkaJars(version: string): readonly PinnedJar[] {
  const jars = KAFKA_JARS[version];
  if (!jars)
    throw new Error(
      `Kafka ${version} has no pinned jar list (pinned: ${Object.keys(KAFKA_JARS).join(", ")}); ` +
        `the AppHost runs only jars whose SHA-256 it knows`,
    );
  return jars;
}

/** Where a version's jars live in the cache: `<cache>/kafka/kafka-<version>`. */
export function kafkaHome(cacheDir: string, version: string): string {
  return join(cacheDir, "kafka", `kafka-${version}`);
}

function complete(home: string, jars: readonly PinnedJar[]): boolean {
  return jars.every((jar) => existsSync(join(home, "libs", basename(jar.path))));
}

export async function ensureKafkaDistribution(opts: EnsureKafkaOptions = {}): Promise<KafkaDistribution> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => undefined);
  const version = opts.version ?? DEFAULT_KAFKA_VERSION;
  const jars = kafkaJars(version);
  const cacheDir = opts.cacheDir ?? artemisCacheDir(env);
  const home = kafkaHome(cacheDir, version);
  const found = (source: KafkaDistribution["source"]): KafkaDistribution => ({
    home,
    libs: join(home, "libs"),
    version,
    source,
  });
  if (complete(home, jars)) return found("cache");

  const root = join(cacheDir, "kafka");
  await mkdir(root, { recursive: true });
  const release = await acquireLock(
    join(root, `.kafka-${version}.lock`),
    () => log(`Waiting for another process that is downloading the Kafka ${version} jars`),
    opts.signal,
  );
  try {
    if (complete(home, jars)) return found("cache");
    const work = await mkdtemp(join(root, `.tmp-${version}-`));
    try {
      const repository = (
        opts.repository ??
        (env.OUTBOX_APPHOST_MAVEN_REPOSITORY || DEFAULT_REPOSITORY)
      ).replace(/\/+$/, "");
      await downloadJars(jars, repository, join(work, "libs"), version, log, opts.progress, opts.signal);
      await rm(home, { recursive: true, force: true });
      try {
        await rename(work, home);
      } catch (error) {
        // Another process that did not honour the lock finished first: its copy is as good.
        if (complete(home, jars)) return found("cache");
        throw error;
      }
      log(`Kafka ${version} ready at ${home}`);
      return found("https");
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  } finally {
    await release();
  }
}

async function downloadJars(
  jars: readonly PinnedJar[],
  repository: string,
  libs: string,
  version: string,
  log: (line: string) => void,
  progress: ((event: DownloadProgress) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  await mkdir(libs, { recursive: true });
  const what = `Kafka ${version}`;
  const total = jars.reduce((sum, jar) => sum + jar.bytes, 0);
  log(
    `Downloading the ${jars.length} jars of Kafka ${version} (${(total / 1048576).toFixed(1)} MB) from ${repository}`,
  );
  let received = 0;
  let lastDecile = -1;
  const report = (done: boolean) => {
    progress?.({ what, via: "https", receivedBytes: received, totalBytes: total, done });
    const decile = Math.min(10, Math.floor((received / total) * 10));
    if (decile > lastDecile) {
      lastDecile = decile;
      log(`  ${decile * 10}% of ${(total / 1048576).toFixed(1)} MB`);
    }
  };
  report(false);
  for (const jar of jars) {
    const url = `${repository}/${jar.path}`;
    const res = await fetch(url, { signal });
    if (!res.ok || !res.body) throw new Error(`GET ${url} failed: HTTP ${res.status}`);
    const hash = createHash("sha256");
    const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    body.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      received += chunk.length;
      report(false);
    });
    const file = join(libs, basename(jar.path));
    await pipeline(body, createWriteStream(file));
    const actual = hash.digest("hex");
    if (actual !== jar.sha256) {
      throw new Error(
        `SHA-256 mismatch for ${url}: expected ${jar.sha256} (pinned in kafka/jars.ts), got ${actual}; ` +
          `the download was refused and nothing was kept`,
      );
    }
  }
  const names = await readdir(libs);
  if (names.length !== jars.length) throw new Error(`Expected ${jars.length} jars, have ${names.length}`);
  report(true);
  log(`  SHA-256 of all ${jars.length} jars verified`);
}
