import { spawn, type ChildProcess } from "node:child_process";
import type { LogSink } from "./log-sink.js";

export interface ProcessSpec {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Run as this user (PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
}

/** How long an exited process's output may take to drain before `exited` resolves without it. */
const OUTPUT_DRAIN_MS = 1000;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A child process in its own process group, so that stopping or killing it also ends whatever it
 * started (PostgreSQL backends, a JVM's helpers) and nothing outlives the AppHost.
 */
export class ManagedProcess {
  readonly exited: Promise<ExitInfo>;
  private readonly child: ChildProcess;
  private exitInfo: ExitInfo | undefined;

  constructor(
    readonly resource: string,
    spec: ProcessSpec,
    logs: LogSink,
  ) {
    this.child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      uid: spec.uid,
      gid: spec.gid,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (this.child.stdout) logs.pipe(resource, "stdout", this.child.stdout);
    if (this.child.stderr) logs.pipe(resource, "stderr", this.child.stderr);
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.once("error", (error) => {
        logs.write(resource, "apphost", `failed to start ${spec.command}: ${error.message}`);
        this.exitInfo ??= { code: -1, signal: null };
        resolve(this.exitInfo);
      });
      // The output's last lines (often the reason for an exit) may still be in the pipes when the
      // process ends: resolve once they are read, or after a second if a leftover keeps them open.
      const outputEnded = Promise.all(
        [this.child.stdout, this.child.stderr].map((stream) =>
          stream && !stream.readableEnded
            ? new Promise<void>((done) => {
                stream.once("end", done);
                stream.once("close", done);
              })
            : Promise.resolve(),
        ),
      );
      this.child.once("exit", (code, signal) => {
        const info = { code, signal };
        this.exitInfo = info;
        let timer: NodeJS.Timeout | undefined;
        void Promise.race([
          outputEnded,
          new Promise<void>((done) => (timer = setTimeout(done, OUTPUT_DRAIN_MS))),
        ]).then(() => {
          clearTimeout(timer);
          resolve(info);
        });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined && this.child.pid !== undefined;
  }

  /** Sends a signal to the whole process group. */
  signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }

  /** Sends a signal to the group leader only (e.g. PostgreSQL's postmaster, which stops its backends itself). */
  signalLeader(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /**
   * Graceful stop: `signal` to the leader, then SIGKILL to the group after `timeoutMs`.
   * Always ends with a SIGKILL to the group to sweep stragglers.
   */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<ExitInfo> {
    if (this.running) {
      this.signalLeader(signal);
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), timeoutMs).unref()),
      ]);
      if (timedOut) this.signalGroup("SIGKILL");
    }
    const info = await this.exited;
    this.signalGroup("SIGKILL");
    return info;
  }

  /** SIGKILL to the whole group: a crash, as resilience tests need it. */
  async kill(): Promise<ExitInfo> {
    this.signalGroup("SIGKILL");
    return this.exited;
  }
}
