import path from "node:path";
import { parseArgs } from "node:util";
import { buildApp } from "./app.js";
import { generateSecrets } from "./dashboard/auth.js";
import { DEFAULT_DASHBOARD_PORT, DashboardServer } from "./dashboard/dashboard-server.js";
import { JaegerProcess } from "./dashboard/jaeger.js";
import { applyReplicaOverrides, parseReplicaOverrides } from "./model/replica-overrides.js";
import { publishCommand } from "./publish/publish.js";
import { ModeError, resolveMode, type ProviderMode } from "./providers/mode.js";
import { DistributedApplication } from "./runtime/distributed-application.js";
import { assertWipeable } from "./runtime/fresh.js";
import { installLastResort } from "./runtime/last-resort.js";
import { maskUri } from "./runtime/environment.js";
import { repositoryRoot } from "./testing.js";

const USAGE = `Usage: npm run apphost -- [options]
       npm run apphost -- publish --target <compose|kubernetes> --output <dir>

Starts the whole system: one PostgreSQL per service, ActiveMQ Artemis, sender-service, receiver-service.

Options:
  --mode <auto|process|container>  how infrastructure runs (default: auto)
  --fresh                          wipe .apphost/ (data, logs, credentials) before starting
  --state-dir <dir>                where data, logs and state.json live (default: .apphost)
  --dashboard-port <port>          dashboard and OTLP intake port (default: $APPHOST_DASHBOARD_PORT or 18888;
                                   0 = any free port; a taken default falls back to a free port)
  --replicas <svc=n,...>           run n replicas of a service, e.g. sender=3,receiver=3 (default: app.ts)
  --no-color                       plain console output
  -h, --help                       this text
`;

async function main(): Promise<number> {
  if (process.argv[2] === "publish") {
    const model = buildApp();
    return publishCommand(process.argv.slice(3), model, (text) =>
      applyReplicaOverrides(model, parseReplicaOverrides(text)),
    );
  }
  let args;
  try {
    args = parseArgs({
      options: {
        mode: { type: "string", default: "auto" },
        fresh: { type: "boolean", default: false },
        "state-dir": { type: "string" },
        "dashboard-port": { type: "string" },
        "no-color": { type: "boolean", default: false },
        replicas: { type: "string" },
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

  const model = buildApp();
  try {
    if (args.replicas !== undefined) applyReplicaOverrides(model, parseReplicaOverrides(args.replicas));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }

  const say = (message: string) => process.stdout.write(`apphost | ${message}\n`);
  let resolved: "process" | "container";
  try {
    resolved = await resolveMode(mode, say, buildApp());
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
  const stateDir = path.resolve(args["state-dir"] ?? path.join(repositoryRoot, ".apphost"));
  if (args.fresh) {
    try {
      await assertWipeable(stateDir);
    } catch (error) {
      process.stderr.write(`apphost | ${(error as Error).message}\n`);
      return 2;
    }
  }
  // The dashboard listens before anything starts: its URL is the OTLP endpoint injected into services.
  const dashboard = new DashboardServer({
    port: dashboardPort,
    fallbackToFreePort: portSetting === undefined,
    secrets: generateSecrets(),
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

  const app = new DistributedApplication(model, {
    rootDir: repositoryRoot,
    stateDir,
    fresh: args.fresh,
    mode: resolved,
    console: true,
    colour: !args["no-color"] && process.stdout.isTTY === true,
    otlpEndpoint: dashboard.url,
    otlpHeaders: dashboard.otlpHeaders,
  });
  dashboard.attach(app);
  if (!args.fresh) await dashboard.seedConsole();
  // Container mode would run Jaeger's image; only process mode exists so far: a `jaeger` binary on PATH.
  const jaeger = await JaegerProcess.start({ logs: app.logs, say });
  installLastResort({
    stop: () =>
      app
        .stop()
        .then(() => jaeger?.stop())
        .then(() => dashboard.close()),
    kill: () => Promise.all([...app.snapshot().map((r) => app.killResource(r.name)), jaeger?.stop()]).then(),
    log: (message) => process.stderr.write(`apphost | ${message}\n`),
  });
  if (jaeger) dashboard.addExtraResource(jaeger, jaeger.otlpEndpoint);
  say(`dashboard: ${dashboard.url}`);
  say(`Login: ${dashboard.loginUrl}`);

  let stopping: Promise<void> | undefined;
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
    stopping = app
      .stop()
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
    await jaeger?.stop();
    await dashboard.close();
    return 1;
  }
  say(`all resources running and healthy in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // A Jaeger in the model (container mode) gets a copy of the traces the dashboard receives.
  const jaegerOtlp = app.snapshot().find((r) => r.kind === "jaeger")?.endpoints.otlp;
  if (jaegerOtlp) dashboard.forwardTracesTo(jaegerOtlp.replace(/^https?:/, "http:"));
  printSummary(app, dashboard);
  // Keep running until a signal arrives.
  return new Promise<number>(() => {});
}

function printSummary(app: DistributedApplication, dashboard: DashboardServer): void {
  const lines = ["", "Resources:"];
  for (const r of app.snapshot()) {
    lines.push(
      `  ${r.name.padEnd(12)} ${r.kind.padEnd(18)} ${`${r.state}/${r.health}`.padEnd(16)} pid ${String(r.pid ?? "-").padEnd(8)}`,
    );
    for (const [name, url] of Object.entries(r.endpoints)) lines.push(`      ${name.padEnd(8)} ${url}`);
    for (const x of r.replicas ?? [])
      lines.push(
        `      ${x.name.padEnd(12)} ${x.state}/${x.health} pid ${x.pid ?? "-"} ${x.endpoints.http ?? ""}`,
      );
    if (r.kind === "node-service" && r.endpoints.http) {
      lines.push(`      swagger  ${r.endpoints.http}/swagger`);
      lines.push(`      health   ${r.endpoints.http}/health`);
    }
    if (r.connectionString) lines.push(`      conn     ${maskUri(r.connectionString)}`);
  }
  const sender = app.snapshot().find((r) => r.name === "sender")?.endpoints.http;
  const receiver = app.snapshot().find((r) => r.name === "receiver")?.endpoints.http;
  lines.push(
    "",
    `State file (with credentials): ${app.stateFile}`,
    `Logs: ${path.dirname(app.logs.fileOf("x"))}`,
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

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`apphost | ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
