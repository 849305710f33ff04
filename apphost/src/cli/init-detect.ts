// What `apphost init` finds in a repository: npm workspaces and the root package with a start
// script (Node apps), directories with a Dockerfile (containers built by the engine), and Python or
// Go projects (left to the user as a commented hint: how they start cannot be guessed safely).

import fs from "node:fs";
import path from "node:path";
import { parseStartScript } from "../model/node-app.js";

/** What a detected resource becomes in the written model. */
export type DetectedKind =
  | "node-app" // `addNodeApp`: the start script is `node <file>`
  | "npm-script" // `addNpmScript(…, "start")`: any other start script
  | "dockerfile" // `addDockerfile`: a Dockerfile in the directory
  | "hint"; // written as a comment only (Python, Go, a Node package with only a `dev` script)

export interface DetectedResource {
  /** A unique resource name (`^[a-z][a-z0-9-]{0,62}$`). */
  name: string;
  kind: DetectedKind;
  /** The directory, relative to the root with '/' separators; "." is the root itself. */
  directory: string;
  /** What was found, and where: the comment above the resource in the model. */
  evidence: string;
  /** For `npm-script`: the script to run. */
  script?: string;
  /** For `dockerfile`: the first port the Dockerfile EXPOSEs. */
  exposedPort?: number;
  /** For `hint`: the language or what is missing, e.g. "Python", "Go", "dev script". */
  hint?: "Python" | "Go" | "dev script";
  /** For `node-app`/`npm-script`: this directory also has a Dockerfile (mentioned, not used). */
  alsoDockerfile?: boolean;
}

export interface Detection {
  /** The root package's name, or the directory's name: a basis for the app's name. */
  projectName: string;
  /** Resources and hints, in the order they are written. */
  resources: DetectedResource[];
}

export interface DetectOptions {
  /** How deep below the root Dockerfiles, Python and Go projects are looked for (default 3). */
  maxDepth?: number;
}

/** Directories never scanned: dependencies, build output, and dot-directories (.git, .apphost, …). */
const SKIPPED_DIRECTORIES = new Set(["node_modules", "dist"]);

/** More workspace directories than this is a runaway glob, not a monorepo. */
const MAX_WORKSPACES = 500;

interface PackageJson {
  name?: unknown;
  scripts?: Record<string, unknown>;
  workspaces?: unknown;
}

/** Scans `rootDir` and returns what the starter model should declare. */
export function detectProject(rootDir: string, options: DetectOptions = {}): Detection {
  const maxDepth = options.maxDepth ?? 3;
  const root = path.resolve(rootDir);
  const rootPackage = readPackageJson(root);
  const names = new Set<string>();
  const unique = (base: string) => uniqueName(base, names);
  const resources: DetectedResource[] = [];
  const nodeDirectories = new Set<string>();

  // Node apps: the workspaces; the root package itself only when it has none (a monorepo root's
  // start script usually runs one of its workspaces, which is detected on its own).
  const workspacePatterns = rootPackage ? workspaceGlobs(rootPackage) : [];
  const packageDirectories =
    workspacePatterns.length > 0 ? expandWorkspaces(root, workspacePatterns) : rootPackage ? ["."] : [];
  for (const directory of packageDirectories) {
    const manifest = directory === "." ? rootPackage : readPackageJson(path.join(root, directory));
    if (!manifest) continue;
    const found = nodeResource(root, directory, manifest, unique);
    if (found) {
      resources.push(found);
      nodeDirectories.add(directory);
    }
  }

  // A repository of separate packages without workspaces (say frontend/ and backend/): with no
  // workspaces and no start script of its own, packages below the root are looked for too.
  const scanPackages =
    workspacePatterns.length === 0 && !resources.some((r) => r.directory === "." && r.kind !== "hint");

  // Dockerfiles, Python and Go projects (and those packages) anywhere within the depth limit.
  for (const directory of scanDirectories(root, maxDepth)) {
    const absolute = path.join(root, directory);
    const manifest = scanPackages && directory !== "." ? readPackageJson(absolute) : undefined;
    const found = manifest ? nodeResource(root, directory, manifest, unique) : undefined;
    if (found) {
      resources.push(found);
      nodeDirectories.add(directory);
    }
    const dockerfile = path.join(absolute, "Dockerfile");
    const baseName =
      directory === "." ? (packageBaseName(rootPackage) ?? path.basename(root)) : path.basename(directory);
    if (isFile(dockerfile)) {
      // A package with a start script runs as a process (no container engine needed); its
      // Dockerfile is only mentioned. One with only a `dev` script runs from its Dockerfile.
      const index = resources.findIndex((r) => r.directory === directory);
      const node = resources[index];
      if (node && node.kind !== "hint") {
        node.alsoDockerfile = true;
        continue;
      }
      const exposedPort = firstExposedPort(dockerfile);
      const container: DetectedResource = {
        name: node?.name ?? unique(baseName),
        kind: "dockerfile",
        directory,
        evidence: `${join(directory, "Dockerfile")}${exposedPort === undefined ? "" : `, EXPOSE ${exposedPort}`}`,
        ...(exposedPort === undefined ? {} : { exposedPort }),
      };
      if (node) resources[index] = container;
      else resources.push(container);
      continue;
    }
    if (nodeDirectories.has(directory)) continue;
    const python = ["pyproject.toml", "requirements.txt"].find((f) => isFile(path.join(absolute, f)));
    if (python) {
      resources.push({
        name: unique(baseName),
        kind: "hint",
        hint: "Python",
        directory,
        evidence: join(directory, python),
      });
      continue;
    }
    if (isFile(path.join(absolute, "go.mod")))
      resources.push({
        name: unique(baseName),
        kind: "hint",
        hint: "Go",
        directory,
        evidence: join(directory, "go.mod"),
      });
  }

  return { projectName: packageBaseName(rootPackage) ?? path.basename(root), resources };
}

/** A Node package's resource: `start` → app or npm script; only `dev` → a hint; neither → none. */
function nodeResource(
  root: string,
  directory: string,
  manifest: PackageJson,
  unique: (base: string) => string,
): DetectedResource | undefined {
  const base =
    packageBaseName(manifest) ?? (directory === "." ? path.basename(root) : path.basename(directory));
  const manifestPath = join(directory, "package.json");
  const start = scriptOf(manifest, "start");
  if (start !== undefined) {
    const evidence = `${manifestPath}, start script ${JSON.stringify(start)}`;
    return parseStartScript(start)
      ? { name: unique(base), kind: "node-app", directory, evidence }
      : { name: unique(base), kind: "npm-script", directory, evidence, script: "start" };
  }
  const dev = scriptOf(manifest, "dev");
  if (dev !== undefined)
    return {
      name: unique(base),
      kind: "hint",
      hint: "dev script",
      directory,
      evidence: `${manifestPath}, dev script ${JSON.stringify(dev)} and no start script`,
    };
  return undefined;
}

function scriptOf(manifest: PackageJson, script: string): string | undefined {
  const value = manifest.scripts?.[script];
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** npm's `"workspaces": [...]`, or the `{ "packages": [...] }` form yarn also reads. */
function workspaceGlobs(manifest: PackageJson): string[] {
  const { workspaces } = manifest;
  const list = Array.isArray(workspaces)
    ? workspaces
    : typeof workspaces === "object" &&
        workspaces !== null &&
        Array.isArray((workspaces as { packages?: unknown }).packages)
      ? (workspaces as { packages: unknown[] }).packages
      : [];
  return list.filter((w): w is string => typeof w === "string" && w.trim() !== "");
}

/**
 * The directories (relative, sorted, holding a package.json) that workspace globs name. Segments
 * are matched one at a time: `*` within a segment, `**` for any number of directories; a leading
 * `!` excludes. Skipped directories are never entered, so `**` does not reach into node_modules.
 */
export function expandWorkspaces(root: string, patterns: readonly string[]): string[] {
  const included = new Set<string>();
  const excluded: RegExp[] = [];
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = normalisePattern(negated ? raw.slice(1) : raw);
    if (pattern === undefined) continue;
    if (negated) {
      excluded.push(globToRegExp(pattern));
      continue;
    }
    for (const directory of matchSegments(root, ".", pattern.split("/"), 0)) {
      if (included.size >= MAX_WORKSPACES) break;
      if (isFile(path.join(root, directory, "package.json"))) included.add(directory);
    }
  }
  return [...included].filter((d) => !excluded.some((re) => re.test(d))).sort();
}

/** `./packages/*\/` → `packages/*`; a pattern that leaves the root is ignored. */
function normalisePattern(pattern: string): string | undefined {
  const segments = pattern
    .replace(/\\/g, "/")
    .split("/")
    .filter((s) => s !== "" && s !== ".");
  if (segments.length === 0 || segments.includes("..") || path.isAbsolute(pattern)) return undefined;
  return segments.join("/");
}

function matchSegments(root: string, directory: string, segments: string[], depth: number): string[] {
  const [segment, ...rest] = segments;
  if (segment === undefined) return [directory];
  if (depth > 8) return [];
  if (segment === "**") {
    // Zero directories, or one more directory with `**` still to match.
    const deeper = subdirectories(root, directory).flatMap((child) =>
      matchSegments(root, child, segments, depth + 1),
    );
    return [...matchSegments(root, directory, rest, depth), ...deeper];
  }
  if (!/[*?]/.test(segment)) {
    const child = join(directory, segment);
    return isDirectory(path.join(root, child)) && !isSkipped(segment)
      ? matchSegments(root, child, rest, depth + 1)
      : [];
  }
  const re = globToRegExp(segment);
  return subdirectories(root, directory)
    .filter((child) => re.test(path.posix.basename(child)))
    .flatMap((child) => matchSegments(root, child, rest, depth + 1));
}

/** `*` and `?` within a segment, `**` across segments; everything else literal. */
function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*" && glob[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** The root and every directory below it down to `maxDepth`, breadth first, sorted per level. */
function scanDirectories(root: string, maxDepth: number): string[] {
  const found: string[] = [];
  let level = ["."];
  for (let depth = 0; depth <= maxDepth && level.length > 0; depth++) {
    found.push(...level);
    level = level.flatMap((directory) => subdirectories(root, directory));
  }
  return found;
}

/** Real subdirectories (not links: a link could lead out of the repository or in a circle). */
function subdirectories(root: string, directory: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, directory), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory() && !isSkipped(e.name))
    .map((e) => join(directory, e.name))
    .sort();
}

function isSkipped(name: string): boolean {
  return name.startsWith(".") || SKIPPED_DIRECTORIES.has(name);
}

/** The first literal port of the Dockerfile's EXPOSE lines (`EXPOSE 8080/tcp` → 8080). */
function firstExposedPort(dockerfile: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(dockerfile, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*EXPOSE\s+(\d+)(?:\/(?:tcp|udp))?(?:\s|$)/i.exec(line);
    const port = match ? Number(match[1]) : NaN;
    if (Number.isInteger(port) && port > 0 && port < 65536) return port;
  }
  return undefined;
}

function readPackageJson(directory: string): PackageJson | undefined {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(path.join(directory, "package.json"), "utf8"));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** `@acme/api` → `api`. */
function packageBaseName(manifest: PackageJson | undefined): string | undefined {
  const name = manifest?.name;
  if (typeof name !== "string" || name.trim() === "") return undefined;
  return name.replace(/^@[^/]*\//, "");
}

/**
 * A valid resource name (`^[a-z][a-z0-9-]{0,62}$`) from any text: lower case, other characters to
 * '-', a leading non-letter dropped; "app" when nothing is left.
 */
export function toResourceName(text: string): string {
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return name === "" ? "app" : name;
}

/** `toResourceName(base)`, with `-2`, `-3`, … when taken; records the name as taken. */
export function uniqueName(base: string, taken: Set<string>): string {
  const name = toResourceName(base);
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) {
    const suffix = `-${n}`;
    candidate = `${name.slice(0, 63 - suffix.length).replace(/-+$/, "")}${suffix}`;
  }
  taken.add(candidate);
  return candidate;
}

function join(directory: string, child: string): string {
  return directory === "." ? child : `${directory}/${child}`;
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function isDirectory(file: string): boolean {
  try {
    return fs.lstatSync(file).isDirectory();
  } catch {
    return false;
  }
}
