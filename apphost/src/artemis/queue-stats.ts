// Queue depths from outside the broker through Artemis' own CLI (`artemis queue stat --json`).
// It starts a JVM, so a call costs about 3 s: fine for tests and tools, not for a hot path (use the
// AMQP management address `activemq.management` for that).

import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ArtemisDistribution } from "./distribution.js";

export interface QueueStat {
  queue: string;
  address: string;
  messageCount: number;
  consumerCount: number;
  messagesAdded: number;
  messagesAcked: number;
}

export interface QueueStatsOptions {
  distribution: ArtemisDistribution;
  /** Core URL, e.g. tcp://127.0.0.1:61616; or give `port` (host 127.0.0.1). */
  url?: string;
  port?: number;
  user: string;
  password: string;
  /** Keep temporary and internal queues (management replies, $sys.*). Default false. */
  includeInternal?: boolean;
  timeoutMs?: number;
}

interface RawQueueStat {
  name?: unknown;
  address?: unknown;
  messageCount?: unknown;
  consumerCount?: unknown;
  messagesAdded?: unknown;
  messagesAcked?: unknown;
  temporary?: unknown;
  internalQueue?: unknown;
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function num(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** Parses the stdout of `artemis queue stat --json` (every value in it is a string). */
export function parseQueueStatJson(stdout: string, includeInternal = false): QueueStat[] {
  const start = stdout.indexOf("{");
  const end = stdout.lastIndexOf("}");
  if (start < 0 || end < start)
    throw new Error(`No JSON in artemis queue stat output: ${stdout.slice(0, 200)}`);
  const parsed = JSON.parse(stdout.slice(start, end + 1)) as { data?: unknown };
  if (!Array.isArray(parsed.data)) throw new Error("artemis queue stat JSON has no data array");
  return (parsed.data as RawQueueStat[])
    .filter((q) => includeInternal || (q.temporary !== "true" && q.internalQueue !== "true"))
    .map((q) => ({
      queue: str(q.name),
      address: str(q.address),
      messageCount: num(q.messageCount),
      consumerCount: num(q.consumerCount),
      messagesAdded: num(q.messagesAdded),
      messagesAcked: num(q.messagesAcked),
    }));
}

export async function queueStats(opts: QueueStatsOptions): Promise<QueueStat[]> {
  const url = opts.url ?? (opts.port !== undefined ? `tcp://127.0.0.1:${String(opts.port)}` : undefined);
  if (!url) throw new Error("queueStats needs url or port");
  const args = [
    "queue",
    "stat",
    "--json",
    "--silent",
    "--maxRows",
    "10000",
    "--maxColumnSize",
    "-1",
    "--url",
    url,
    "--user",
    opts.user,
  ];
  // The password goes in a 0600 argument file (the CLI expands @file), not on the command line
  // every local user can read. Inside double quotes the CLI unescapes \ and ".
  const secretDir = await mkdtemp(join(tmpdir(), "outbox-apphost-cli-"));
  const argumentFile = join(secretDir, "password.args");
  await writeFile(argumentFile, `--password "${opts.password.replace(/[\\"]/g, "\\$&")}"\n`, { mode: 0o600 });
  args.push(`@${argumentFile}`);
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (done, fail) => {
      const child = spawn(join(opts.distribution.home, "bin", "artemis"), args, {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
      child.on("error", (e) => {
        clearTimeout(timer);
        fail(e);
      });
      child.on("close", (c) => {
        clearTimeout(timer);
        done({ code: c, stdout: out, stderr: err });
      });
    },
  ).finally(() => rm(secretDir, { recursive: true, force: true }));
  if (code !== 0 || !stdout.includes("{")) {
    throw new Error(
      `artemis queue stat failed (exit ${String(code)}): ${(stderr || stdout).trim().slice(-500)}`,
    );
  }
  return parseQueueStatJson(stdout, opts.includeInternal);
}
