// CPU and memory of whole process trees, read from /proc: a PostgreSQL server is a postmaster plus
// one backend per connection, Artemis may be a launcher script plus its JVM, so one pid is not
// enough. Linux only (the bench runs the process provider on Linux).
import { readdirSync, readFileSync } from "node:fs";

const CLK_TCK = 100; // USER_HZ: 100 on every Linux this runs on
const PAGE_KB = 4; // x86-64 / arm64 default page size, for statm's resident pages

interface ProcEntry {
  pid: number;
  ppid: number;
  pgid: number;
  cpuTicks: number;
}

function readStat(pid: number): ProcEntry | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // exited between the listing and the read
  }
  // The command may contain spaces and parentheses: fields start after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is the state (field 3 overall): ppid 4, pgrp 5, utime 14, stime 15.
  return {
    pid,
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
  };
}

function allProcesses(): ProcEntry[] {
  const entries: ProcEntry[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const entry = readStat(Number(name));
    if (entry) entries.push(entry);
  }
  return entries;
}

/** The root, its process group and every descendant: what a component costs, whatever it forks. */
function treeOf(root: number, processes: ProcEntry[]): ProcEntry[] {
  // This process (the load generator) is the parent of the whole stack: count only itself.
  if (root === process.pid) return processes.filter((p) => p.pid === root);
  const members = new Set<number>([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of processes)
      if (!members.has(p.pid) && (members.has(p.ppid) || p.pgid === root)) {
        members.add(p.pid);
        grew = true;
      }
  }
  return processes.filter((p) => members.has(p.pid));
}

/**
 * Resident memory of one process in KiB: its proportional share (Pss) where the kernel gives it,
 * so that PostgreSQL's shared buffers, mapped by every backend, are counted once per server and
 * not once per backend; plain RSS otherwise.
 */
function residentKb(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const pss = /^Pss:\s+(\d+) kB/m.exec(rollup);
    if (pss) return Number(pss[1]);
  } catch {
    // no smaps_rollup (old kernel) or the process is gone: fall through
  }
  try {
    const resident = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]);
    return Number.isFinite(resident) ? resident * PAGE_KB : 0;
  } catch {
    return 0;
  }
}

/** Component name → root pid (null = not running; it is then left out). */
export type Components = Record<string, number | null>;

export interface SamplerReading {
  cpuPercent: Record<string, number>;
  cpuSeconds: Record<string, number>;
  rssMb: Record<string, number>;
  windowS: number;
}

/**
 * Samples CPU and RSS of each component's process tree while a load runs. `stop()` gives CPU as a
 * percentage of one core over the window (200% = both cores of a 2-core machine) and the highest
 * resident memory seen (Pss sum), in MiB. A process that exits mid-window keeps the CPU it had at
 * the last sample (1 s); restart nothing
 * inside one.
 */
export class ProcessSampler {
  private readonly startTicks = new Map<string, Map<number, number>>();
  private readonly lastTicks = new Map<string, Map<number, number>>();
  private readonly peakRssKb = new Map<string, number>();
  private readonly startedAt = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly components: Components,
    intervalMs = 1_000,
  ) {
    this.sample(this.startTicks);
    this.timer = setInterval(() => this.sample(this.lastTicks), intervalMs);
  }

  private sample(into: Map<string, Map<number, number>>): void {
    const processes = allProcesses();
    for (const [name, root] of Object.entries(this.components)) {
      if (root === null) continue;
      const tree = treeOf(root, processes);
      // Keep every pid ever seen: a backend that exits mid-window still counted until then.
      const ticks = into.get(name) ?? new Map<number, number>();
      for (const p of tree) ticks.set(p.pid, p.cpuTicks);
      into.set(name, ticks);
      const rss = tree.reduce((sum, p) => sum + residentKb(p.pid), 0);
      this.peakRssKb.set(name, Math.max(this.peakRssKb.get(name) ?? 0, rss));
    }
  }

  /**
   * What the window holds so far, sampling now; sampling goes on. `cpuSeconds` is the exact CPU
   * time (user + sys) per component, `cpuPercent` the same as a rounded share of one core.
   */
  read(): SamplerReading {
    this.sample(this.lastTicks);
    const windowS = (Date.now() - this.startedAt) / 1000;
    const cpuPercent: Record<string, number> = {};
    const cpuSeconds: Record<string, number> = {};
    const rssMb: Record<string, number> = {};
    for (const name of Object.keys(this.components)) {
      const end = this.lastTicks.get(name);
      if (!end) continue;
      const start = this.startTicks.get(name) ?? new Map<number, number>();
      let ticks = 0;
      for (const [pid, t] of end) ticks += t - (start.get(pid) ?? 0);
      cpuSeconds[name] = ticks / CLK_TCK;
      cpuPercent[name] = Math.round((ticks / CLK_TCK / windowS) * 1000) / 10;
      rssMb[name] = Math.round((this.peakRssKb.get(name) ?? 0) / 1024);
    }
    return { cpuPercent, cpuSeconds, rssMb, windowS };
  }

  /** Stops sampling and reads the whole window. */
  stop(): SamplerReading {
    clearInterval(this.timer);
    return this.read();
  }
}
