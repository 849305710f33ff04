// Kafka's command-line tools (kafka-topics.sh, kafka-broker-api-versions.sh) run classes of the
// `kafka-tools` jar, which the broker itself does not need (it is not in jars.ts). The look-alike
// image carries it so that published output, which creates topics and checks health with the
// image's own tools, runs on it as on the official image. Pinned by SHA-256 like the broker's jars
// (Maven Central's published .sha1 matched too); downloaded once into the AppHost cache.

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { artemisCacheDir } from "../artemis/distribution.js";
import type { PinnedJar } from "./jars.js";

export const KAFKA_TOOLS_JARS: Readonly<Record<string, PinnedJar>> = {
  "4.4.0": {
    path: "org/apache/kafka/kafka-tools/4.4.0/kafka-tools-4.4.0.jar",
    sha256: "4eb9a7fbfd63badfd8d1a677aa2d54b47b2b2d442ff7d68fd223972afea1954c",
    bytes: 751995,
  },
};

const DEFAULT_REPOSITORY = "https://repo.maven.apache.org/maven2";

export interface EnsureKafkaToolsOptions {
  version: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/**
 * The path of the cached tools jar of `version`, downloaded first when missing. A download is kept
 * only when its SHA-256 is the pinned one; it is written beside its place and renamed into it, so
 * a concurrent or killed download never leaves a partial jar where it is looked for.
 */
export async function ensureKafkaToolsJar(options: EnsureKafkaToolsOptions): Promise<string> {
  const env = options.env ?? process.env;
  const jar = KAFKA_TOOLS_JARS[options.version];
  if (!jar) throw new Error(`Kafka ${options.version} has no pinned kafka-tools jar (tools-jar.ts)`);
  const dir = join(artemisCacheDir(env), "kafka", `kafka-tools-${options.version}`);
  const file = join(dir, basename(jar.path));
  if (existsSync(file)) return file;
  const url = `${(env.OUTBOX_APPHOST_MAVEN_REPOSITORY || DEFAULT_REPOSITORY).replace(/\/+$/, "")}/${jar.path}`;
  options.log?.(`Downloading ${basename(jar.path)} (${(jar.bytes / 1048576).toFixed(1)} MB) from ${url}`);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url} failed: HTTP ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  const actual = createHash("sha256").update(body).digest("hex");
  if (actual !== jar.sha256)
    throw new Error(
      `SHA-256 mismatch for ${url}: expected ${jar.sha256} (pinned in kafka/tools-jar.ts), got ${actual}; nothing was kept`,
    );
  await mkdir(dir, { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  try {
    await writeFile(partial, body);
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
  return file;
}
