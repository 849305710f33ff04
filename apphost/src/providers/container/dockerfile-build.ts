import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { DockerfileResource } from "../../model/dockerfile.js";
import { runtimeClient } from "./docker-objects.js";

/** The inputs of one build: every file of the context, the Dockerfile's path and the build arguments. */
export interface BuildInputs {
  contextDir: string;
  /** Paths relative to the context, `/`-separated, sorted. */
  files: string[];
  dockerfile: string;
  buildArgs: Record<string, string>;
}

/** How many of the build output's last lines a failed build reports. */
const FAILURE_LINES = 15;

/**
 * Reads the context and hashes what the engine would build from: file paths, contents, the
 * executable bit and symlink targets, the Dockerfile's path and the build arguments. The same
 * inputs give the same hash, whatever the files' timestamps.
 */
export async function hashBuildInputs(
  contextDir: string,
  dockerfile: string,
  buildArgs: Record<string, string>,
): Promise<{ hash: string; inputs: BuildInputs }> {
  const stat = await fs.stat(contextDir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new Error(`Build context ${contextDir} is not a directory`);
  const files = await listFiles(contextDir);
  if (!files.includes(dockerfile.split(path.sep).join("/")))
    throw new Error(`Build context ${contextDir} has no ${dockerfile}`);
  const hash = createHash("sha256");
  hash.update(`dockerfile\0${dockerfile}\0`);
  for (const key of Object.keys(buildArgs).sort()) hash.update(`arg\0${key}\0${buildArgs[key]}\0`);
  for (const file of files) {
    const full = path.join(contextDir, file);
    const info = await fs.lstat(full);
    hash.update(`file\0${file}\0${info.mode & 0o111 ? "x" : "-"}\0`);
    if (info.isSymbolicLink()) hash.update(`link\0${await fs.readlink(full)}\0`);
    else hash.update(await fs.readFile(full));
    hash.update("\0");
  }
  return { hash: hash.digest("hex"), inputs: { contextDir, files, dockerfile, buildArgs } };
}

async function listFiles(root: string, relative = ""): Promise<string[]> {
  const entries = await fs.readdir(path.join(root, relative), { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const child = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await listFiles(root, child)));
    else if (entry.isFile() || entry.isSymbolicLink()) files.push(child);
  }
  return files;
}

/** `<app>/<resource>:<16 hex of the build inputs>`: the same inputs name the same image. */
export function builtImageName(appName: string, resource: string, hash: string): string {
  const slug =
    appName
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, "-")
      .replace(/^[^a-z0-9]+/, "") || "app";
  return `${slug}/${resource}:${hash.slice(0, 16)}`;
}

/** A build the engine refused: the message and the last lines of its output. */
export class ImageBuildError extends Error {
  constructor(
    readonly image: string,
    readonly reason: string,
    readonly lastLines: string[],
  ) {
    super(
      `building ${image} failed: ${reason}${lastLines.length ? `\n${lastLines.map((l) => `  ${l}`).join("\n")}` : ""}`,
    );
    this.name = "ImageBuildError";
  }
}

/** Builds in flight by image name: the replicas of one resource share one build. */
const inFlight = new Map<string, Promise<BuildResult>>();

export interface BuildResult {
  image: string;
  /** False when an image of that name was already there (an unchanged context). */
  built: boolean;
}

/**
 * The image of a Dockerfile resource: built by the engine unless an image with the tag of the
 * current inputs exists. Build output goes to `log` line by line.
 */
export async function ensureBuiltImage(
  resource: DockerfileResource,
  options: { rootDir: string; appName: string; log: (line: string) => void },
): Promise<BuildResult> {
  const contextDir = resource.resolveContext(options.rootDir);
  const { hash, inputs } = await hashBuildInputs(contextDir, resource.dockerfile, { ...resource.buildArgs });
  const image = builtImageName(options.appName, resource.name, hash);
  let build = inFlight.get(image);
  if (!build) {
    build = buildUnlessPresent(image, inputs, options.log).finally(() => inFlight.delete(image));
    inFlight.set(image, build);
  }
  return build;
}

async function buildUnlessPresent(
  image: string,
  inputs: BuildInputs,
  log: (line: string) => void,
): Promise<BuildResult> {
  const docker = (await runtimeClient()).container.dockerode;
  const present = await docker
    .getImage(image)
    .inspect()
    .then(
      () => true,
      (error: { statusCode?: number }) => {
        if (error.statusCode === 404) return false;
        throw error;
      },
    );
  if (present) {
    log(`image ${image} is up to date (build context unchanged): not rebuilt`);
    return { image, built: false };
  }
  log(`building ${image} from ${path.join(inputs.contextDir, inputs.dockerfile)}`);
  const stream = await docker.buildImage(
    { context: inputs.contextDir, src: inputs.files },
    {
      t: image,
      dockerfile: inputs.dockerfile.split(path.sep).join("/"),
      buildargs: inputs.buildArgs,
      // Intermediate containers of a failed build are not left behind.
      forcerm: true,
    },
  );
  const output: string[] = [];
  const failure = await followBuild(stream, (line) => {
    output.push(line);
    if (output.length > FAILURE_LINES) output.shift();
    log(line);
  });
  if (failure !== undefined) throw new ImageBuildError(image, failure, output);
  log(`built ${image}`);
  return { image, built: true };
}

/** Reads the engine's JSON progress stream; resolves with the build's error, if it reports one. */
function followBuild(
  stream: NodeJS.ReadableStream,
  line: (text: string) => void,
): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let pending = "";
    let error: string | undefined;
    const handle = (text: string) => {
      if (text.trim() === "") return;
      let event: { stream?: string; status?: string; error?: string; errorDetail?: { message?: string } };
      try {
        event = JSON.parse(text) as typeof event;
      } catch {
        line(text);
        return;
      }
      const message = event.stream ?? event.status;
      if (message) for (const part of message.split("\n")) if (part.trim() !== "") line(part.trimEnd());
      if (event.error !== undefined) error = event.errorDetail?.message ?? event.error;
    };
    stream.on("data", (chunk: Buffer | string) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const text of lines) handle(text);
    });
    stream.on("end", () => {
      handle(pending);
      resolve(error);
    });
    stream.on("error", reject);
  });
}
