// `npm run example` (and test/example.test.ts): @outbox/messaging as a user gets it. The library is
// packed (prepack builds it), examples/express-outbox is copied outside the workspace and installs
// the tarball from npm and is typechecked against its declarations; PostgreSQL and Artemis are
// started by the AppHost test harness; the example runs with their connection strings, N notes are
// posted, and each must be projected exactly once.
// Everything started is stopped and the temporary directory removed, also when a step fails.

import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { repositoryRoot, startTestApp, stopTestApp } from "@outbox/apphost/testing";
import pg from "pg";
import { freePort } from "../../apphost/src/runtime/ports.js";
import { INSTALL_FLAGS, packWorkspace, runOrThrow, userEnvironment } from "../support/packed-project.js";
import { eventually } from "../support/receiver.js";

export interface ExampleOptions {
  /** How many notes to post (default 20). */
  notes?: number;
  log?: (line: string) => void;
}

export interface ExampleResult {
  posted: number;
  projected: number;
  inboxRows: number;
  /** Seconds per step, for the record. */
  timings: Record<string, number>;
}

const EXAMPLE_DIR = path.join(repositoryRoot, "examples/express-outbox");
const SCHEMA = "notes_app";

/** The infrastructure the example expects: a database, and the "notes" topic with its "projector" group. */
function infrastructure() {
  const app = createApp({ name: "express-outbox-example" });
  app.addPostgres("pg").addDatabase("notesdb");
  app.addArtemis("broker").addTopic("notes", ["projector"]);
  return app;
}

export async function runExample(options: ExampleOptions = {}): Promise<ExampleResult> {
  const total = options.notes ?? 20;
  if (!Number.isInteger(total) || total < 1 || total > 10_000)
    throw new Error(`the number of notes must be a whole number from 1 to 10000, got ${total}`);
  const log = options.log ?? ((line: string) => process.stdout.write(`example | ${line}\n`));
  const timings: Record<string, number> = {};
  const timed = async <T>(label: string, step: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await step();
    } finally {
      timings[label] = Math.round((Date.now() - started) / 100) / 10;
      log(`${label}: ${timings[label]} s`);
    }
  };

  const root = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-messaging-example-"));
  let app: DistributedApplication | undefined;
  let example: ExampleProcess | undefined;
  try {
    const tarball = await timed("npm pack", () => packWorkspace("messaging", path.join(root, "pack")));
    const project = path.join(root, "express-outbox");
    await timed("npm install", () => installExample(project, tarball));
    await checkInstalledPackage(project);
    // server.js against the installed declarations, strict: the types a TypeScript user compiles with.
    await timed("typecheck", () =>
      runOrThrow("npm", ["run", "typecheck"], { cwd: project, timeoutMs: 180_000 }),
    );

    app = await timed("PostgreSQL + Artemis", () =>
      startTestApp({ model: infrastructure(), rootDir: root, mode: "process" }),
    );
    const database = app.getMigrationsConnectionString("notesdb");
    const port = await freePort();
    example = startExample(project, {
      ConnectionStrings__db: database,
      ConnectionStrings__broker: app.getConnectionString("broker"),
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: process.env.APPHOST_TEST_LOGS === "1" ? "info" : "warn",
    });
    const base = `http://127.0.0.1:${port}`;
    const running = example;
    await timed("example healthy", () => running.whileRunning(waitForHealth(base)));

    const projected = async () => (await rowsOf(database, "note_projection")).length;
    // Precondition: nothing projected before the first post.
    if ((await projected()) !== 0) throw new Error("the projection has rows before any note was posted");
    const ids = await timed(`post ${total} notes`, () => running.whileRunning(postNotes(base, total)));

    await timed("projected", () =>
      running.whileRunning(
        eventually(
          `${total} notes in ${SCHEMA}.note_projection`,
          async () => ((await projected()) >= total ? true : undefined),
          120_000,
        ),
      ),
    );
    const projection = await rowsOf(database, "note_projection");
    const inbox = await rowsOf(database, "inbox");
    const problems = exactlyOnceProblems(ids, projection, inbox.length);
    if (problems.length > 0) throw new Error(`not exactly once:\n  ${problems.join("\n  ")}`);
    log(`${total} notes posted, ${projection.length} projected once each, ${inbox.length} inbox rows`);
    return { posted: total, projected: projection.length, inboxRows: inbox.length, timings };
  } finally {
    const problems: string[] = [];
    if (example) await example.stop().catch((error: Error) => problems.push(error.message));
    await stopTestApp(app).catch((error: Error) => problems.push(`stopping the AppHost: ${error.message}`));
    await fs.rm(root, { recursive: true, force: true });
    if (problems.length > 0) log(`clean-up: ${problems.join("; ")}`);
  }
}

/** Copies the example (without anything installed) and installs it with the tarball in place of the version. */
async function installExample(project: string, tarball: string): Promise<void> {
  await fs.cp(EXAMPLE_DIR, project, {
    recursive: true,
    filter: (source) => !/[\\/](node_modules|package-lock\.json)$/.test(source),
  });
  const manifestFile = path.join(project, "package.json");
  const manifest = JSON.parse(await fs.readFile(manifestFile, "utf8")) as {
    dependencies: Record<string, string>;
  };
  if (manifest.dependencies["@outbox/messaging"] === undefined)
    throw new Error(`${EXAMPLE_DIR}/package.json does not depend on @outbox/messaging`);
  manifest.dependencies["@outbox/messaging"] = `file:${tarball}`;
  await fs.writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  await runOrThrow("npm", ["install", ...INSTALL_FLAGS], { cwd: project, timeoutMs: 300_000 });
}

/** The installed package is built JavaScript with declarations, its SQL, and nothing private. */
async function checkInstalledPackage(project: string): Promise<void> {
  const installed = path.join(project, "node_modules/@outbox/messaging");
  const manifest = JSON.parse(await fs.readFile(path.join(installed, "package.json"), "utf8")) as {
    private?: boolean;
    exports: Record<string, unknown>;
    dependencies?: Record<string, string>;
  };
  const problems: string[] = [];
  if (manifest.private !== undefined) problems.push("package.json has `private`");
  if (Object.keys(manifest.exports).join() !== ".") problems.push("exports has more than `.`");
  for (const dependency of Object.keys(manifest.dependencies ?? {}))
    if (dependency.startsWith("@outbox/")) problems.push(`depends on the workspace package ${dependency}`);
  for (const file of ["dist/index.js", "dist/index.d.ts"])
    if (!(await exists(path.join(installed, file)))) problems.push(`${file} is missing`);
  if (await exists(path.join(installed, "src"))) problems.push("src/ was packed");
  // Every SQL file of the workspace package ships, where the code reads it (relative to the package).
  const migrations = path.join(repositoryRoot, "messaging/migrations");
  if (await exists(migrations))
    for (const entry of await fs.readdir(migrations, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const relative = path.relative(
        path.join(repositoryRoot, "messaging"),
        path.join(entry.parentPath, entry.name),
      );
      if (!(await exists(path.join(installed, relative)))) problems.push(`${relative} was not packed`);
    }
  const declarations = await fs.readdir(path.join(installed, "dist"), { recursive: true });
  for (const file of declarations.filter((name) => name.endsWith(".d.ts"))) {
    const text = await fs.readFile(path.join(installed, "dist", file), "utf8");
    if (text.includes("@outbox/service-defaults"))
      problems.push(`dist/${file} refers to @outbox/service-defaults`);
  }
  if (problems.length > 0) throw new Error(`the packed @outbox/messaging: ${problems.join("; ")}`);
}

interface ExampleProcess {
  /** Rejects as soon as the example exits, with its output: a crash at start names its cause. */
  whileRunning<T>(step: Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

function startExample(project: string, env: Record<string, string>): ExampleProcess {
  const child: ChildProcess = spawn(process.execPath, ["server.js"], {
    cwd: project,
    env: userEnvironment(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
    if (process.env.APPHOST_TEST_LOGS === "1") process.stdout.write(`notes | ${chunk.toString()}`);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const crashed = exited.then((code) => {
    throw new Error(`the example exited (code ${code}) while it should be running; its output:\n${output}`);
  });
  crashed.catch(() => undefined);
  return {
    whileRunning: (step) => Promise.race([step, crashed]),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timeout = new Promise<"timeout">((resolve) =>
        setTimeout(() => resolve("timeout"), 30_000).unref(),
      );
      if ((await Promise.race([exited, timeout])) === "timeout") {
        child.kill("SIGKILL");
        await exited;
        throw new Error(`the example did not stop within 30 s of SIGTERM; its output:\n${output}`);
      }
    },
  };
}

async function waitForHealth(base: string): Promise<void> {
  await eventually(
    "the example to answer /health",
    async () => ((await fetch(`${base}/health`).catch(() => undefined))?.ok ? true : undefined),
    120_000,
  );
}

/** Posts the notes a few at a time; returns their ids. */
async function postNotes(base: string, total: number): Promise<string[]> {
  const ids: string[] = [];
  for (let first = 0; first < total; first += 5) {
    const batch = Array.from({ length: Math.min(5, total - first) }, (_, i) => first + i);
    const created = await Promise.all(
      batch.map(async (n) => {
        const response = await fetch(`${base}/notes`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ text: `note ${n}` }),
        });
        if (response.status !== 201)
          throw new Error(`POST /notes answered ${response.status}: ${await response.text()}`);
        return ((await response.json()) as { id: string }).id;
      }),
    );
    ids.push(...created);
  }
  return ids;
}

async function rowsOf(database: string, table: string): Promise<{ id?: string; applied?: number }[]> {
  const client = new pg.Client({ connectionString: database });
  await client.connect();
  try {
    return (await client.query<{ id?: string; applied?: number }>(`SELECT * FROM ${SCHEMA}.${table}`)).rows;
  } finally {
    await client.end();
  }
}

/** Every posted note projected once (applied = 1), nothing else projected, one inbox row per note. */
export function exactlyOnceProblems(
  posted: readonly string[],
  projection: readonly { id?: string; applied?: number }[],
  inboxRows: number,
): string[] {
  const problems: string[] = [];
  const projected = new Map(projection.map((row) => [row.id, row.applied]));
  const missing = posted.filter((id) => !projected.has(id));
  if (missing.length > 0)
    problems.push(`${missing.length} posted notes never projected: ${missing.join(", ")}`);
  const extra = [...projected.keys()].filter((id) => !posted.includes(id ?? ""));
  if (extra.length > 0) problems.push(`${extra.length} projected notes were never posted`);
  const twice = projection.filter((row) => row.applied !== 1);
  if (twice.length > 0)
    problems.push(`applied more than once: ${twice.map((row) => `${row.id} ×${row.applied}`).join(", ")}`);
  if (inboxRows !== posted.length) problems.push(`${inboxRows} inbox rows for ${posted.length} events`);
  return problems;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const notes = process.env.EXAMPLE_NOTES === undefined ? undefined : Number(process.env.EXAMPLE_NOTES);
  runExample(notes === undefined ? {} : { notes }).then(
    () => process.exit(0),
    (error: Error) => {
      process.stderr.write(`example | FAILED: ${error.message}\n`);
      process.exit(1);
    },
  );
}
