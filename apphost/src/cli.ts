import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ConsoleReporter } from "./cli/console-reporter.js";
import {
  loadModel,
  locateModelFile,
  ModelFileError,
  takeModelOption,
  type ModelProject,
} from "./cli/model-file.js";
import { detach } from "./cli/detach.js";
import { ProgressBar } from "./cli/progress-bar.js";
import { CliError, removeControlFile, writeControlFile } from "./cli/state-files.js";
import { Terminal } from "./cli/terminal.js";
import { watchApplication, type ServiceWatcher } from "./cli/watch.js";
import { runVerb, VERB_USAGE, VERBS } from "./cli/verb-dispatch.js";
import { generateSecrets } from "./dashboard/auth.js";
import { DEFAULT_DASHBOARD_PORT, DashboardServer } from "./dashboard/dashboard-server.js";
import { JaegerProcess } from "./dashboard/jaeger.js";
import { applyReplicaOverrides, parseReplicaOverrides } from "./model/replica-overrides.js";
import { publishCommand } from "./publish/publish.js";
import { ModeError, resolveMode, type ProviderMode } from "./providers/mode.js";
import { DistributedApplication } from "./runtime/distributed-application.js";
import { clearLeftovers } from "./runtime/leftovers.js";
import { assertWipeable, wipeStateDirectory } from "./runtime/fresh.js";
import { installLastResort } from "./runtime/last-resort.js";

const USAGE = `Usage: apphost [--model <file>] [options]
       apphost [--model <file>] <verb> [arguments]
       apphost [--model <file>] publish --target <compose|kubernetes> --output <dir>
       apphost init [<directory>] [--force]   write a starter apphost.ts (apphost init --help)
       (in this repository: npm run apphost -- ...)

Starts every resource of the application model and waits until all are healthy.

The model: --model <file>, else ./apphost.ts, apphost.mts, apphost.js or apphost.mjs. Its default
export is an AppBuilder (createApp(...)) or a function returning one. The model file's directory is
the project root: service directories resolve against it, and .apphost/ (state) lives in it.

Options:
  --model <file>                   the model file (default: ./apphost.ts, .mts, .js, .mjs)
  --mode <auto|process|container>  how infrastructure runs (default: auto)
  --fresh                          wipe .apphost/ (data, logs, credentials) before starting
  --state-dir <dir>                where data, logs and state.json live (default: .apphost)
  --dashboard-port <port>          dashboard and OTLP intake port (default: $APPHOST_DASHBOARD_PORT or 18888;
                                   0 = any free port; a taken default falls back to a free port)
  --transport <name>               set APPHOST_TRANSPORT for the model file, which decides what it means
                                   (this repository's apphost.ts: artemis, the default, or kafka)
  --replicas <svc=n,...>           run n replicas of an app or container, e.g. sender=3 (default: the model)
  --detach                         start in the background; return once everything is healthy
  --watch                          restart a service when its source (or a workspace package it uses) changes
  --verbose                        stream every resource's output to the console (default: log files only)
  --no-color                       plain console output
  -h, --help                       this text

${VERB_USAGE}`;

async function main(): Promise<number> {
  const { model: modelOption, rest: argv } = takeModelOption(process.argv.slice(2));
  // Found on first use: `--help`, and verbs given --state-dir, need no model file.
  let project: ModelProject | undefined;
  const locate = () => (project ??= locateModelFile(modelOption, process.cwd()));
  const verb = argv[0];
  if (verb === "init")
    return (await import("./cli/init.js")).initCommand(argv.slice(1), process.cwd(), modelOption);
  if (verb === "publish") return publishCommand(argv.slice(1), () => loadModel(locate()));
  if (verb !== undefined && VERBS.has(verb)) {
    // `mcp` lists the tools of the model's dashboard contributions too; with --state-dir and no
    // model file in sight there is no model, so only the AppHost's own tools.
    const contributedTools = async () => {
      let found: ModelProject;
      try {
        found = locate();
      } catch (error) {
        if (modelOption === undefined && error instanceof ModelFileError) return [];
        throw error;
      }
      return (await loadModel(found)).model.dashboardContributions().flatMap((c) => c.tools);
    };
    return runVerb(verb, argv.slice(1), () => locate().rootDir, contributedTools);
  }
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        mode: { type: "string", default: "auto" },
        fresh: { type: "boolean", default: false },
        "state-dir": { type: "string" },
        "dashboard-port": { type: "string" },
        detach: { type: "boolean", default: false },
        watch: { type: "boolean", default: false },
        verbose: { type: "boolean", default: false },
        "no-color": { type: "boolean", default: false },
        replicas: { type: "string" },
        transport: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const mode = args.mode as ProviderMode;
  if (!["auto", "process", "container"].includes(mode)) {
    process.stderr.write(`--mode must be auto, process or container (got "${args.mode}")\n`);
    return 2;
  }

  // A model file may be built for one of several brokers: it reads APPHOST_TRANSPORT when it runs
  // (below), and refuses a value it does not know. A detached AppHost gets the flag again.
  if (args.transport !== undefined) process.env.APPHOST_TRANSPORT = args.transport;
  const { model, rootDir, file: modelFile } = await loadModel(locate());
  try {
    if (args.replicas !== undefined) applyReplicaOverrides(model, parseReplicaOverrides(args.replicas));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }

  const terminal = new Terminal();
  const say = (message: string) => terminal.line(`apphost | ${message}`);
  let resolved: "process" | "container";
  try {
    resolved = await resolveMode(mode, say, model);
  } catch (error) {
    if (error instanceof ModeError) {
      process.stderr.write(`apphost | ${error.message}\n`);
      return 1;
    }
    throw error;
  }

  const portSetting = args["dashboard-port"] ?? process.env.APPHOST_DASHBOARD_PORT;
  const dashboardPort = portSetting === undefined ? DEFAULT_DASHBOARD_PORT : Number(portSetting);
  if (!Number.isInteger(dashboardPort) || dashboardPort < 0 || dashboardPort > 65535) {
    process.stderr.write(`--dashboard-port must be a port number (got "${portSetting}")\n`);
    return 2;
  }
  const stateDir = path.resolve(args["state-dir"] ?? path.join(rootDir, ".apphost"));
  if (args.fresh) {
    try {
      await assertWipeable(stateDir);
    } catch (error) {
      process.stderr.write(`apphost | ${(error as Error).message}\n`);
      return 2;
    }
  }
  // --fresh wipes here, before anything writes into the state directory (control file, console
  // log); a detached child's parent already did, and the child only removes container volumes.
  if (args.fresh && process.env.APPHOST_DETACHED !== "1") {
    await clearLeftovers(path.join(stateDir, "state.json"), say);
    await wipeStateDirectory(stateDir, say);
  }
  if (args.detach) {
    // The background AppHost loads the same model file, whatever its working directory.
    const rest = ["--model", modelFile, ...argv.filter((a) => a !== "--detach")];
    return detach({ stateDir, args: rest, cliPath: launcherPath(), print: (t) => say(t) });
  }
  const secrets = generateSecrets();
  // The dashboard listens before anything starts: its URL is the OTLP endpoint injected into services.
  const dashboard = new DashboardServer({
    port: dashboardPort,
    fallbackToFreePort: portSetting === undefined,
    secrets,
    telemetryDir: path.join(stateDir, "telemetry"),
    fresh: args.fresh,
    log: say,
  });
  try {
    await dashboard.listen();
  } catch (error) {
    process.stderr.write(
      `apphost | dashboard cannot listen on port ${dashboardPort}: ${(error as Error).message}\n`,
    );
    return 1;
  }
  const control = {
    pid: process.pid,
    dashboardUrl: dashboard.url,
    token: secrets.toolToken,
    loginUrl: dashboard.loginUrl,
    ready: false,
    startedAt: new Date().toISOString(),
  };
  await writeControlFile(stateDir, control);

  const bar = new ProgressBar();
  const app = new DistributedApplication(model, {
    rootDir,
    stateDir,
    mode: resolved,
    fresh: args.fresh,
    stateWiped: args.fresh,
    console: args.verbose,
    progress: (event) => terminal.setStatus(bar.render(event), event.done),
    colour: !args["no-color"] && process.stdout.isTTY === true,
    otlpEndpoint: dashboard.url,
    otlpHeaders: dashboard.otlpHeaders,
  });
  dashboard.attach(app);
  const reporter = args.verbose ? undefined : new ConsoleReporter(app, terminal);
  if (!args.fresh) await dashboard.seedConsole();
  // Container mode would run Jaeger's image; only process mode exists so far: a `jaeger` binary on PATH.
  const jaeger = await JaegerProcess.start({
    logs: app.logs,
    say: args.verbose ? say : (message) => app.logs.write("apphost", "apphost", message),
  });
  installLastResort({
    stop: () =>
      app
        .stop()
        .then(() => removeControlFile(stateDir))
        .then(() => jaeger?.stop())
        .then(() => dashboard.close()),
    kill: () => Promise.all([...app.snapshot().map((r) => app.killResource(r.name)), jaeger?.stop()]).then(),
    log: (message) => process.stderr.write(`apphost | ${message}\n`),
  });
  if (jaeger) dashboard.addExtraResource(jaeger, jaeger.otlpEndpoint);
  say(`dashboard (watch the start there): ${dashboard.loginUrl}`);

  let stopping: Promise<void> | undefined;
  let watcher: ServiceWatcher | undefined;
  const shutdown = (signal: string) => {
    if (stopping) {
      say(`${signal} again: killing everything now`);
      // Second interrupt: the user wants out. Process groups make the kill complete.
      void Promise.all([
        ...app.snapshot().map((r) => app.killResource(r.name).catch(() => {})),
        jaeger?.stop().catch(() => {}),
      ]).finally(() => process.exit(130));
      return;
    }
    say(`${signal}: stopping (reverse dependency order)…`);
    reporter?.stop();
    stopping = (watcher?.close() ?? Promise.resolve())
      .then(() => app.stop())
      .then(() => removeControlFile(stateDir))
      .then(() => jaeger?.stop())
      .then(() => dashboard.close())
      .then(
        () => {
          say("stopped; nothing left running");
          process.exit(0);
        },
        (error: Error) => {
          process.stderr.write(`apphost | stop failed: ${error.message}\n`);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGHUP", () => shutdown("SIGHUP"));

  say(`starting ${app.model.name} (mode ${resolved}, state in ${app.stateDir})`);
  const started = Date.now();
  try {
    await app.start();
  } catch (error) {
    if (stopping) return new Promise<number>(() => {});
    process.stderr.write(`apphost | ${(error as Error).message}\n`);
    await removeControlFile(stateDir);
    await jaeger?.stop();
    await dashboard.close();
    return 1;
  }
  say(`all resources running and healthy in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // A Jaeger in the model (container mode) gets a copy of the traces the dashboard receives.
  const jaegerOtlp = app.snapshot().find((r) => r.kind === "jaeger")?.endpoints.otlp;
  if (jaegerOtlp) dashboard.forwardTracesTo(jaegerOtlp.replace(/^https?:/, "http:"));
  printSummary(app, dashboard);
  if (args.watch && !stopping) watcher = await watchApplication(app, rootDir, say);
  await writeControlFile(stateDir, { ...control, loginUrl: dashboard.loginUrl, ready: true });
  // Keep running until a signal arrives.
  return new Promise<number>(() => {});
}

function printSummary(app: DistributedApplication, dashboard: DashboardServer): void {
  // Each resource already had its line when it became healthy; this is where to go next.
  const lines = ["", "Services:"];
  for (const r of app.snapshot()) {
    if ((r.kind !== "node-service" && r.kind !== "node-app") || !r.endpoints.http) continue;
    // Only services built on service-defaults serve Swagger; a plain app gets its address alone.
    const swagger = r.kind === "node-service" ? `  (swagger ${r.endpoints.http}/swagger)` : "";
    lines.push(`  ${r.name.padEnd(12)} ${r.endpoints.http}${swagger}`);
    for (const x of r.replicas ?? [])
      if (x.endpoints.http) lines.push(`    ${x.name.padEnd(10)} ${x.endpoints.http}`);
  }
  const sender = app.snapshot().find((r) => r.name === "sender")?.endpoints.http;
  const receiver = app.snapshot().find((r) => r.name === "receiver")?.endpoints.http;
  lines.push(
    "",
    `State file: ${app.stateFile}`,
    `Logs: ${path.dirname(app.logs.fileOf("x"))}  (npm run apphost -- logs <resource> -f)`,
  );
  if (sender && receiver) {
    lines.push(
      "",
      "Try it:",
      `  curl -s -X POST ${sender}/api/EntityItems -H 'content-type: application/json' -d '{"name":"hello"}'`,
      `  curl -s ${receiver}/api/ReceivedItems`,
    );
  }
  lines.push("", `Dashboard: ${dashboard.loginUrl}`, "", "Press Ctrl+C to stop everything.", "");
  process.stdout.write(lines.join("\n"));
}

/**
 * The script this process was started with (the `apphost` bin's launcher, or this file under
 * `--import tsx`): run again with the same Node options, it starts the same CLI.
 */
function launcherPath(): string {
  return process.argv[1] ? path.resolve(process.argv[1]) : fileURLToPath(import.meta.url);
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    // A mistake of the user's (a missing or bad model file): one line, no stack trace.
    if (error instanceof CliError) {
      process.stderr.write(`apphost | ${error.message}\n`);
      process.exit(error.exitCode);
    }
    process.stderr.write(`apphost | ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
