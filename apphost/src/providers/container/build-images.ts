// `npm run images`: builds the look-alike images for machines that cannot pull from a registry,
// reusing what is already built, and ends by printing the `export APPHOST_IMAGE_...=...` lines that
// make the AppHost use them (`eval "$(npm run -s images)"`). Progress goes to stderr, so that only
// the export lines reach stdout.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureArtemisDistribution } from "../../artemis/distribution.js";
import { ensureKafkaDistribution } from "../../kafka/distribution.js";
import { ensureKafkaToolsJar } from "../../kafka/tools-jar.js";
import { imageVariable, LOCAL_IMAGES } from "./images.js";

const imagesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../images");
const CONTEXT_LABEL = "outbox-apphost.context";

const say = (message: string) => process.stderr.write(`images | ${message}\n`);

function run(
  command: string,
  args: string[],
  options: { cwd?: string; quiet?: boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    const tail: string[] = [];
    const onChunk = (chunk: Buffer, keep: boolean) => {
      const text = chunk.toString();
      if (keep) stdout += text;
      for (const line of text.split("\n").filter((l) => l.trim())) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        if (!options.quiet) process.stderr.write(`       ${line}\n`);
      }
    };
    child.stdout.on("data", (chunk: Buffer) => onChunk(chunk, true));
    child.stderr.on("data", (chunk: Buffer) => onChunk(chunk, false));
    child.on("error", (error) => reject(new Error(`${command}: ${error.message}`)));
    child.on("close", (code) =>
      code === 0
        ? resolve(stdout)
        : reject(
            new Error(`${command} ${args.slice(0, 3).join(" ")} … exited with ${code}:\n${tail.join("\n")}`),
          ),
    );
  });
}

/** The image's context label, or undefined when the image does not exist. */
async function contextOf(image: string): Promise<string | undefined> {
  try {
    const out = await run(
      "docker",
      ["image", "inspect", "--format", `{{ index .Config.Labels "${CONTEXT_LABEL}" }}`, image],
      {
        quiet: true,
      },
    );
    return out.trim();
  } catch {
    return undefined;
  }
}

async function timed<T>(phase: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await work();
  say(`${phase}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** This machine's Debian mirror (debootstrap and the images' apt use the same). */
export async function debianMirror(): Promise<string> {
  if (process.env.APPHOST_DEBIAN_MIRROR) return process.env.APPHOST_DEBIAN_MIRROR;
  const candidates: string[] = [];
  const dir = "/etc/apt/sources.list.d";
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.endsWith(".sources")) {
      const text = await readFile(path.join(dir, name), "utf8").catch(() => "");
      for (const stanza of text.split(/\n\s*\n/)) {
        const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
        if (uri && /^Suites:.*\bbookworm\b(?!-)/m.test(stanza)) candidates.push(uri);
      }
    }
  }
  const list = await readFile("/etc/apt/sources.list", "utf8").catch(() => "");
  for (const match of list.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/gm))
    if (match[1]) candidates.push(match[1]);
  return candidates[0] ?? "http://deb.debian.org/debian";
}

async function buildBase(): Promise<string> {
  const existing = await contextOf(LOCAL_IMAGES.base);
  if (existing !== undefined) {
    say(`${LOCAL_IMAGES.base}: present, reused`);
    return existing;
  }
  const mirror = await debianMirror();
  const rootfs = await mkdtemp(path.join(os.tmpdir(), "outbox-apphost-rootfs-"));
  try {
    await timed(`debootstrap --variant=minbase bookworm (${mirror})`, () =>
      run("debootstrap", ["--variant=minbase", "bookworm", rootfs, mirror]),
    );
    // The machine's apt settings for its mirror (e.g. a snapshot mirror's Check-Valid-Until) apply
    // inside the images too, or `apt-get update` in the builds would refuse the mirror.
    const confDir = "/etc/apt/apt.conf.d";
    for (const name of await readdir(confDir).catch(() => [] as string[])) {
      const text = await readFile(path.join(confDir, name), "utf8").catch(() => "");
      const acquire = text.split("\n").filter((line) => line.startsWith("Acquire::"));
      if (acquire.length > 0)
        await writeFile(path.join(rootfs, confDir, `90host-${name}`), `${acquire.join("\n")}\n`);
    }
    await rm(path.join(rootfs, "var/cache/apt/archives"), { recursive: true, force: true });
    await timed(`docker import → ${LOCAL_IMAGES.base}`, () =>
      run("bash", [
        "-o",
        "pipefail",
        "-c",
        `tar --numeric-owner -C "$0" -c . | docker import --change 'LABEL ${CONTEXT_LABEL}=debootstrap-bookworm' --change 'CMD ["bash"]' - "$1"`,
        rootfs,
        LOCAL_IMAGES.base,
      ]),
    );
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
  return "debootstrap-bookworm";
}

async function digest(files: string[], extra: string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const file of files) hash.update(await readFile(file));
  for (const value of extra) hash.update(value);
  return hash.digest("hex").slice(0, 16);
}

async function buildImage(image: string, context: string, contextHash: string): Promise<void> {
  const existing = await contextOf(image);
  if (existing === contextHash) {
    say(`${image}: present, reused`);
    return;
  }
  say(existing === undefined ? `${image}: building` : `${image}: build context changed, rebuilding`);
  await timed(`docker build ${image}`, () =>
    run("docker", [
      "build",
      "--build-arg",
      `BASE=${LOCAL_IMAGES.base}`,
      "--label",
      `${CONTEXT_LABEL}=${contextHash}`,
      "-t",
      image,
      context,
    ]),
  );
}

async function buildPostgres(baseContext: string): Promise<void> {
  const context = path.join(imagesDir, "postgres");
  const hash = await digest(
    [path.join(context, "Dockerfile"), path.join(context, "docker-entrypoint.sh")],
    [baseContext],
  );
  await buildImage(LOCAL_IMAGES.postgres, context, hash);
}

async function buildArtemis(baseContext: string): Promise<void> {
  const source = path.join(imagesDir, "artemis");
  const distribution = await ensureArtemisDistribution({ log: say });
  const hash = await digest(
    [path.join(source, "Dockerfile"), path.join(source, "docker-run.sh")],
    [baseContext, distribution.version],
  );
  if ((await contextOf(LOCAL_IMAGES.artemis)) === hash) {
    say(`${LOCAL_IMAGES.artemis}: present, reused`);
    return;
  }
  // The distribution is copied into a temporary build context (docker build cannot follow a path
  // outside its context), next to the Dockerfile and entry point.
  const context = await mkdtemp(path.join(os.tmpdir(), "outbox-apphost-artemis-image-"));
  try {
    await cp(source, context, { recursive: true });
    await timed(`copy Artemis ${distribution.version} into the build context`, () =>
      cp(distribution.home, path.join(context, "artemis"), { recursive: true }),
    );
    await buildImage(LOCAL_IMAGES.artemis, context, hash);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

async function buildKafka(baseContext: string): Promise<void> {
  const source = path.join(imagesDir, "kafka");
  const distribution = await ensureKafkaDistribution({ log: say });
  const tools = await ensureKafkaToolsJar({ version: distribution.version, log: say });
  const hash = await digest(
    [
      "Dockerfile",
      "run",
      "log4j2.properties",
      "tools-log4j2.properties",
      "bin/kafka-run-tool",
      "bin/kafka-topics.sh",
      "bin/kafka-broker-api-versions.sh",
    ].map((f) => path.join(source, f)),
    [baseContext, distribution.version, path.basename(tools)],
  );
  if ((await contextOf(LOCAL_IMAGES.kafka)) === hash) {
    say(`${LOCAL_IMAGES.kafka}: present, reused`);
    return;
  }
  // The cached jars are copied into a temporary build context, as for Artemis.
  const context = await mkdtemp(path.join(os.tmpdir(), "outbox-apphost-kafka-image-"));
  try {
    await cp(source, context, { recursive: true });
    await cp(distribution.libs, path.join(context, "libs"), { recursive: true });
    await mkdir(path.join(context, "tools"));
    await cp(tools, path.join(context, "tools", path.basename(tools)));
    await buildImage(LOCAL_IMAGES.kafka, context, hash);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  await timed("docker engine", () => run("docker", ["version", "--format", "{{.Server.Version}}"]));
  const baseContext = await timed("base image", buildBase);
  await timed("postgres image", () => buildPostgres(baseContext));
  await timed("artemis image", () => buildArtemis(baseContext));
  await timed("kafka image", () => buildKafka(baseContext));
  say(`all images ready in ${((Date.now() - started) / 1000).toFixed(1)} s; use them with:`);
  process.stdout.write(
    [
      `export ${imageVariable("postgres")}=${LOCAL_IMAGES.postgres}`,
      `export ${imageVariable("artemis")}=${LOCAL_IMAGES.artemis}`,
      `export ${imageVariable("kafka")}=${LOCAL_IMAGES.kafka}`,
      "",
    ].join("\n"),
  );
}

main().catch((error: Error) => {
  say(`failed: ${error.message}`);
  process.exit(1);
});
