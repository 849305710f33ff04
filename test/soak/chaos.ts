import type { DistributedApplication } from "@outbox/apphost";
import pg from "pg";
import type { SeededRandom } from "./random.js";
import { signalGroup } from "../support/signals.js";

/** Every component the chaos driver faults. "relay-listen" is the relay's LISTEN connection. */
export const COMPONENTS = [
  "broker",
  "sender-pg",
  "receiver-pg",
  "sender",
  "receiver",
  "relay-listen",
] as const;
export type Component = (typeof COMPONENTS)[number];
export type FaultKind = "SIGKILL" | "SIGTERM" | "SIGSTOP" | "pg_terminate_backend";

export interface FaultRecord {
  at: string;
  component: Component;
  fault: FaultKind;
  /** SIGSTOP: how long the component was stalled before SIGCONT. */
  stallMs?: number;
  /** How long until the component was healthy again. */
  healedMs: number;
}

export interface ChaosOptions {
  app: DistributedApplication;
  random: SeededRandom;
  /** Pause between faults: uniform in [min, max] ms. */
  intervalMs: { min: number; max: number };
  log: (line: string) => void;
  signal: AbortSignal;
  /** Every fault is appended here as soon as it healed (the caller watches the counts). */
  faults: FaultRecord[];
}

/**
 * Picks a component and a fault at random (seeded) and applies it, one at a time, healing each
 * (restart + wait for healthy, or SIGCONT) before the next, until the signal. Components not yet
 * faulted are preferred, so a short run faults every one of them.
 */
export async function runChaos(opts: ChaosOptions): Promise<void> {
  const untouched = new Set<Component>(COMPONENTS);
  while (!opts.signal.aborted) {
    await sleep(opts.random.int(opts.intervalMs.min, opts.intervalMs.max), opts.signal);
    if (opts.signal.aborted) break;
    const component =
      untouched.size > 0 && opts.random.next() < 0.7
        ? opts.random.pick([...untouched])
        : opts.random.pick(COMPONENTS);
    untouched.delete(component);
    opts.faults.push(await inject(opts, component));
    await restartExited(opts);
  }
}

/**
 * Starts whatever a fault left Exited besides its target (a PostgreSQL server's database resource
 * goes down with it and is not restarted with the server), so the next fault hits a whole system.
 */
async function restartExited(opts: ChaosOptions): Promise<void> {
  for (const resource of opts.app.snapshot()) {
    if (resource.state !== "Exited" && resource.state !== "FailedToStart") continue;
    opts.log(`${new Date().toISOString()} restarting ${resource.name} (${resource.state})`);
    await opts.app.startResource(resource.name);
    await opts.app.waitForHealthy(resource.name, 180_000);
  }
}

async function inject(opts: ChaosOptions, component: Component): Promise<FaultRecord> {
  const { app, random } = opts;
  const at = new Date().toISOString();
  const started = Date.now();
  if (component === "relay-listen") {
    const killed = await terminateListen(app);
    const record: FaultRecord = { at, component, fault: "pg_terminate_backend", healedMs: 0 };
    opts.log(`${at} fault ${component} pg_terminate_backend (${killed} backend(s))`);
    return record;
  }
  const fault = random.pick<FaultKind>(["SIGKILL", "SIGTERM", "SIGSTOP"]);
  opts.log(`${at} fault ${component} ${fault}`);
  if (fault === "SIGSTOP") {
    const pid = app.resource(component).pid;
    const stallMs = random.int(500, 4_000);
    if (pid !== null) {
      signalGroup(pid, "SIGSTOP");
      await sleep(stallMs, undefined);
      signalGroup(pid, "SIGCONT");
    }
    await app.waitForHealthy(component, 180_000);
    return { at, component, fault, stallMs, healedMs: Date.now() - started };
  }
  if (fault === "SIGKILL") await app.killResource(component);
  else await app.stopResource(component);
  await app.startResource(component);
  await app.waitForHealthy(component, 180_000);
  return { at, component, fault, healedMs: Date.now() - started };
}

/** The relay's LISTEN connection, ended from the server side (like a failover or an idle-kill). */
async function terminateListen(app: DistributedApplication): Promise<number> {
  const client = new pg.Client({ connectionString: app.getConnectionString("senderdb") });
  await client.connect();
  try {
    const result = await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE '%-listen' AND query ILIKE 'LISTEN%'",
    );
    return result.rowCount ?? 0;
  } finally {
    await client.end();
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
