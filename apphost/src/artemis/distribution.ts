// Finds or downloads (once, into a per-user cache) the Apache Artemis binary distribution.
//
// Order: $ARTEMIS_HOME → cached extracted distribution → Maven (`mvn dependency:copy`, which uses the
// machine's own Maven settings, mirrors and proxies) → HTTPS from Maven Central with checksum check.
// Extraction goes to a temporary directory beside the cache entry and is renamed into place, so a
// killed download never leaves a half distribution, and a complete one is never removed: that is
// what makes concurrent AppHosts safe. A lock file only keeps them from downloading twice.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";

export const DEFAULT_ARTEMIS_VERSION = "2.56.0";

/**
 * SHA-512 of `apache-artemis-<version>-bin.tar.gz` as published on Maven Central (`.sha512`),
 * checked against the archive itself. A download of a pinned version is accepted only with this
 * digest, whichever way it came (Maven or HTTPS).
 */
export const PINNED_ARTEMIS_SHA512: Readonly<Record<string, string>> = {
  "2.56.0":
    "441ad38aa1b0526e5709edf43542039f016669d24134056613e4cbafdf6b101e5351f79f7ee190b43fc8031f6ec596a5fd075490dcee4d3eb3a88d8ed2cfc01b",
};

export interface ArtemisDistribution {
  home: string;
  version: string;
  source: "ARTEMIS_HOME" | "cache" | "maven" | "https";
}

export interface EnsureArtemisOptions {
  version?: string;
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Download progress, for a progress bar (the log gets the chatter). */
  progress?: (event: DownloadProgress) => void;
  /** Cancels a download (and the wait for another process's): the AppHost is stopping. */
  signal?: AbortSignal;
}

/** What a download reports: bytes so far (HTTPS), or only that Maven is working (it reports no bytes). */
export interface DownloadProgress {
  what: string;
  via: "maven" | "https";
  receivedBytes: number;
  /** Unknown without a Content-Length, and for Maven. */
  totalBytes?: number;
  done: boolean;
}

const DEFAULT_REPOSITORY = "https://repo.maven.apache.org/maven2";

/** $OUTBOX_APPHOST_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/outbox-apphost. */
export function artemisCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OUTBOX_APPHOST_CACHE) return env.OUTBOX_APPHOST_CACHE;
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache");
  return join(base, "outbox-apphost");
}

/** Maven coordinates: the project moved from org.apache.activemq (≤ 2.44) to org.apache.artemis (2.50+). */
export function artemisGroupId(version: string): string {
  const m = /^(\d+)\.(\d+)\./.exec(version);
  if (!m)
    throw new Error(`Unrecognised Artemis version "${version}" (expected e.g. ${DEFAULT_ARTEMIS_VERSION})`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > 2 || (major === 2 && minor >= 50) ? "org.apache.artemis" : "org.apache.activemq";
}

/** `group:artifact:version:type:classifier`, as `mvn dependency:copy -Dartifact=` wants it. */
export function artemisMavenArtifact(version: string): string {
  return `${artemisGroupId(version)}:apache-artemis:${version}:tar.gz:bin`;
}

export function artemisArchiveName(version: string): string {
  return `apache-artemis-${version}-bin.tar.gz`;
}

export function artemisDownloadUrl(version: string, repository: string = DEFAULT_REPOSITORY): string {
  const groupPath = artemisGroupId(version).replaceAll(".", "/");
  return `${repository.replace(/\/+$/, "")}/${groupPath}/apache-artemis/${version}/${artemisArchiveName(version)}`;
}

/** The first hex token of a Maven checksum file (some carry "<hash>  <file name>"). */
export function parseChecksumFile(content: string): string {
  const token = content.trim().split(/\s+/)[0] ?? "";
  if (!/^[0-9a-fA-F]{40,128}$/.test(token))
    throw new Error(`Not a checksum file: ${JSON.stringify(content.slice(0, 80))}`);
  return token.toLowerCase();
}

export function checksumMatches(expectedHex: string, actualHex: string): boolean {
  return expectedHex.trim().toLowerCase() === actualHex.trim().toLowerCase();
}

function versionDirName(version: string): string {
  return `apache-artemis-${version}`;
}

function hasLauncher(home: string): boolean {
  return existsSync(join(home, "bin", "artemis"));
}

/** Version of an installed distribution, read from its lib/artemis-server-<v>.jar. */
export async function detectArtemisVersion(home: string): Promise<string | undefined> {
  try {
    const files = await readdir(join(home, "lib"));
    for (const f of files) {
      const m = /^artemis-server-(\d+\.\d+\.\d+[^/]*?)\.jar$/.exec(f);
      if (m?.[1]) return m[1];
    }
  } catch {
    // Not a distribution layout we know; the caller reports what it needs.
  }
  return undefined;
}

export function findOnPath(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

export async function ensureArtemisDistribution(
  opts: EnsureArtemisOptions = {},
): Promise<ArtemisDistribution> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => undefined);

  const artemisHome = env.ARTEMIS_HOME;
  if (artemisHome) {
    if (!hasLauncher(artemisHome)) {
      throw new Error(
        `ARTEMIS_HOME=${artemisHome} is not an Apache Artemis distribution: ${join(artemisHome, "bin", "artemis")} ` +
          `does not exist. Unset ARTEMIS_HOME to let the AppHost download Artemis, or point it at an extracted ` +
          `apache-artemis-<version> directory.`,
      );
    }
    const version = (await detectArtemisVersion(artemisHome)) ?? opts.version ?? "unknown";
    return { home: artemisHome, version, source: "ARTEMIS_HOME" };
  }

  const version = opts.version ?? env.OUTBOX_ARTEMIS_VERSION ?? DEFAULT_ARTEMIS_VERSION;
  artemisGroupId(version); // validates the version string before touching the disk
  const root = join(opts.cacheDir ?? artemisCacheDir(env), "artemis");
  const home = join(root, versionDirName(version));
  if (hasLauncher(home)) return { home, version, source: "cache" };

  await mkdir(root, { recursive: true });
  const signal = opts.signal;
  const release = await acquireLock(join(root, `.${versionDirName(version)}.lock`), log, signal);
  try {
    // Another process may have finished while we waited for the lock.
    if (hasLauncher(home)) return { home, version, source: "cache" };
    const work = await mkdtemp(join(root, `.tmp-${version}-`));
    try {
      const source = await download(version, work, env, log, opts.progress ?? (() => undefined), signal);
      await verifyArchive(version, join(work, artemisArchiveName(version)), work, env, log);
      const extractDir = join(work, "x");
      await mkdir(extractDir);
      log(`Extracting ${artemisArchiveName(version)}`);
      await run("tar", ["-xzf", join(work, artemisArchiveName(version)), "-C", extractDir], {
        log: () => undefined,
        signal,
      });
      const extracted = join(extractDir, versionDirName(version));
      if (!hasLauncher(extracted))
        throw new Error(`The downloaded archive has no ${versionDirName(version)}/bin/artemis`);
      if ((await installDistribution(extracted, home, work)) === "existing") {
        log(`Artemis ${version} was installed at ${home} meanwhile by another process; using it`);
        return { home, version, source: "cache" };
      }
      log(`Artemis ${version} ready at ${home}`);
      return { home, version, source };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  } finally {
    await release();
  }
}

/**
 * Renames an extracted distribution into place. A complete distribution already there (another
 * AppHost's, which may be running from it) is kept and "existing" returned; an incomplete one (no
 * bin/artemis) is first moved into `work`, the caller's temporary directory, which it removes.
 */
export async function installDistribution(
  extracted: string,
  home: string,
  work: string,
): Promise<"installed" | "existing"> {
  if (hasLauncher(home)) return "existing";
  if (existsSync(home)) {
    const aside = join(work, "incomplete");
    await rename(home, aside).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    // Completed by another process between the check and the move: put it back.
    if (hasLauncher(aside)) await rename(aside, home).catch(() => undefined);
  }
  try {
    await rename(extracted, home);
    return "installed";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === "ENOTEMPTY" || code === "EEXIST") && hasLauncher(home)) return "existing";
    throw error;
  }
}

async function download(
  version: string,
  work: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  progress: (event: DownloadProgress) => void,
  signal: AbortSignal | undefined,
): Promise<"maven" | "https"> {
  const what = `Artemis ${version}`;
  const mvn = findOnPath("mvn", env);
  if (mvn) {
    log(`Downloading Artemis ${version} with Maven (${artemisMavenArtifact(version)})`);
    progress({ what, via: "maven", receivedBytes: 0, done: false });
    try {
      await run(
        mvn,
        [
          "-B",
          "-Dstyle.color=never",
          "dependency:copy",
          `-Dartifact=${artemisMavenArtifact(version)}`,
          `-DoutputDirectory=${work}`,
        ],
        // No pom here: dependency:copy needs none, and a project's pom in cwd must not interfere.
        { cwd: work, env, log: (line) => log(`[mvn] ${line}`), signal },
      );
      const archive = join(work, artemisArchiveName(version));
      if (existsSync(archive)) {
        const { size } = await stat(archive);
        progress({ what, via: "maven", receivedBytes: size, totalBytes: size, done: true });
        return "maven";
      }
      log(`Maven finished without ${artemisArchiveName(version)}; trying HTTPS`);
    } catch (err) {
      if (signal?.aborted) throw err;
      log(`Maven download failed (${(err as Error).message}); trying HTTPS`);
    }
  }
  const url = artemisDownloadUrl(version, env.OUTBOX_APPHOST_MAVEN_REPOSITORY || DEFAULT_REPOSITORY);
  await httpsDownloadVerified(
    url,
    join(work, artemisArchiveName(version)),
    log,
    (received, total, done) =>
      progress({ what, via: "https", receivedBytes: received, totalBytes: total, done }),
    signal,
  );
  return "https";
}

/**
 * The SHA-512 the archive must have: OUTBOX_ARTEMIS_SHA512 (the user's own pin), the pin in this
 * file, or the `.sha512` Maven Central publishes (through Maven, then HTTPS). Without any of them
 * the download is refused: an archive nobody vouches for never runs.
 */
async function expectedSha512(
  version: string,
  work: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<{ hex: string; from: string }> {
  if (env.OUTBOX_ARTEMIS_SHA512)
    return { hex: parseChecksumFile(env.OUTBOX_ARTEMIS_SHA512), from: "OUTBOX_ARTEMIS_SHA512" };
  const pinned = PINNED_ARTEMIS_SHA512[version];
  if (pinned) return { hex: pinned, from: "the pin in distribution.ts" };
  const failures: string[] = [];
  const mvn = findOnPath("mvn", env);
  if (mvn) {
    try {
      const dir = join(work, "checksum");
      await mkdir(dir, { recursive: true });
      const artifact = artemisMavenArtifact(version).replace(":tar.gz:", ":tar.gz.sha512:");
      await run(
        mvn,
        [
          "-B",
          "-Dstyle.color=never",
          "dependency:copy",
          `-Dartifact=${artifact}`,
          `-DoutputDirectory=${dir}`,
        ],
        {
          cwd: dir,
          env,
          log: () => undefined,
        },
      );
      const file = join(dir, `${artemisArchiveName(version)}.sha512`);
      return {
        hex: parseChecksumFile(await readFile(file, "utf8")),
        from: "Maven Central (.sha512 via Maven)",
      };
    } catch (err) {
      failures.push(`Maven: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  try {
    const url = `${artemisDownloadUrl(version, env.OUTBOX_APPHOST_MAVEN_REPOSITORY || DEFAULT_REPOSITORY)}.sha512`;
    const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return { hex: parseChecksumFile(await res.text()), from: url };
  } catch (err) {
    failures.push(`HTTPS: ${(err as Error).message}`);
  }
  log(`no published SHA-512 for Artemis ${version}: ${failures.join("; ")}`);
  throw new Error(
    `Cannot verify Apache Artemis ${version}: it has no pinned SHA-512 and its published .sha512 could not be fetched ` +
      `(${failures.join("; ")}). Set OUTBOX_ARTEMIS_SHA512 to the archive's SHA-512 to pin it yourself.`,
  );
}

async function verifyArchive(
  version: string,
  archive: string,
  work: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<void> {
  const expected = await expectedSha512(version, work, env, log);
  const actual = await fileDigest(archive, "sha512");
  if (!checksumMatches(expected.hex, actual)) {
    await unlink(archive).catch(() => undefined);
    throw new Error(
      `SHA-512 mismatch for ${artemisArchiveName(version)}: expected ${expected.hex} (${expected.from}), got ${actual}; the archive was deleted`,
    );
  }
  log(`SHA-512 of ${artemisArchiveName(version)} verified against ${expected.from}`);
}

async function fetchChecksum(
  url: string,
  signal: AbortSignal | undefined,
): Promise<{ algorithm: "sha512" | "sha1"; hex: string }> {
  const failures: string[] = [];
  for (const algorithm of ["sha512", "sha1"] as const) {
    const res = await fetch(`${url}.${algorithm}`, { signal });
    if (res.ok) return { algorithm, hex: parseChecksumFile(await res.text()) };
    failures.push(`${algorithm}: HTTP ${res.status}`);
  }
  throw new Error(`No checksum published for ${url} (${failures.join(", ")})`);
}

async function httpsDownloadVerified(
  url: string,
  file: string,
  log: (line: string) => void,
  progress: (received: number, total: number | undefined, done: boolean) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const checksum = await fetchChecksum(url, signal);
  log(`Downloading ${url}`);
  const res = await fetch(url, { signal });
  if (!res.ok || !res.body) throw new Error(`GET ${url} failed: HTTP ${res.status}`);
  const total = Number(res.headers.get("content-length") ?? 0);
  const hash = createHash(checksum.algorithm);
  let received = 0;
  let lastDecile = -1;
  const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  body.on("data", (chunk: Buffer) => {
    hash.update(chunk);
    received += chunk.length;
    const decile = total > 0 ? Math.floor((received / total) * 10) : -1;
    if (decile > lastDecile) {
      lastDecile = decile;
      log(`  ${decile * 10}% of ${(total / 1048576).toFixed(1)} MB`);
    }
    progress(received, total > 0 ? total : undefined, false);
  });
  await pipeline(body, createWriteStream(file));
  progress(received, total > 0 ? total : received, true);
  const actual = hash.digest("hex");
  if (!checksumMatches(checksum.hex, actual)) {
    await unlink(file).catch(() => undefined);
    throw new Error(
      `${checksum.algorithm.toUpperCase()} mismatch for ${url}: expected ${checksum.hex}, got ${actual}`,
    );
  }
  log(`  ${checksum.algorithm.toUpperCase()} verified`);
}

/** SHA digest of a file, hex. */
export async function fileDigest(file: string, algorithm: "sha512" | "sha1"): Promise<string> {
  const hash = createHash(algorithm);
  await pipeline(createReadStream(file), hash);
  return hash.digest("hex");
}

function run(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; log: (line: string) => void; signal?: AbortSignal },
): Promise<void> {
  return new Promise((resolve, reject) => {
    // An abort kills the child (SIGTERM); its "error" event rejects.
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", "pipe", "pipe"],
      signal: opts.signal,
    });
    const tail: string[] = [];
    const onLine = (line: string): void => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      opts.log(line);
    };
    createInterface({ input: child.stdout }).on("line", onLine);
    createInterface({ input: child.stderr }).on("line", onLine);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else
        reject(new Error(`${command} exited with ${signal ?? String(code)}: ${tail.slice(-5).join(" | ")}`));
    });
  });
}

const LOCK_POLL_MS = 500;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes a lock judged stale by its `content`, unless it changed meanwhile. Breaking is itself
 * exclusive (`<lock>.break`): two waiters that judged the same dead owner must not both unlink,
 * or the second would remove the lock the first has just taken. Returns whether it was broken.
 */
async function breakStaleLock(path: string, judged: string): Promise<boolean> {
  const breaker = `${path}.break`;
  let handle;
  try {
    handle = await open(breaker, "wx");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    // Another waiter is breaking it; a breaker that died in those few microseconds left this file.
    const age = await stat(breaker).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > 10_000) await unlink(breaker).catch(() => undefined);
    return false;
  }
  try {
    await handle.close();
    // Still the lock that was judged: nobody can take a new one while it exists.
    if ((await readFile(path, "utf8").catch(() => undefined)) !== judged) return false;
    await unlink(path).catch(() => undefined);
    return true;
  } finally {
    await unlink(breaker).catch(() => undefined);
  }
}

/** An exclusive lock file holding the owner's pid; a lock whose owner died is taken over. */
export async function acquireLock(
  path: string,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<() => Promise<void>> {
  let announced = false;
  for (;;) {
    if (signal?.aborted) throw new Error(`Aborted while waiting for the lock ${path}`);
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await unlink(path).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const content = await readFile(path, "utf8").catch(() => "");
    const owner = Number(content.trim());
    if (!Number.isInteger(owner) || owner <= 0 || !processAlive(owner)) {
      // Empty content can mean the owner is between open and write: only break it when old.
      const age = await stat(path).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if ((owner > 0 || age > 5_000) && (await breakStaleLock(path, content))) continue;
    } else if (!announced) {
      announced = true;
      log(`Waiting for process ${owner} that is downloading Artemis (${path})`);
    }
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
}
