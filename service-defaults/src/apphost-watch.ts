/**
 * A service the AppHost started (it injects APPHOST_PID) stops when the AppHost is gone, as .NET
 * Aspire's orchestrator stops its projects: an AppHost killed with SIGKILL cannot stop its children,
 * and a sender left behind would keep relaying and holding its port.
 *
 * The parent's death shows as a new parent pid (the kernel hands the orphan to init or a
 * subreaper), so a reused pid cannot fool the check. A service started any other way (a wrapper
 * in between, Compose, Kubernetes) is not watched.
 */
export interface AppHostWatchOptions {
  /** The AppHost's pid as injected (APPHOST_PID); undefined or unparsable: no watch. */
  apphostPid: string | undefined;
  onGone: () => void;
  intervalMs?: number;
  /** The current parent pid (tests replace it). */
  parentPid?: () => number;
}

/** Starts watching; returns a function that stops the watch, or undefined when nothing is watched. */
export function watchAppHost(opts: AppHostWatchOptions): (() => void) | undefined {
  const apphost = Number(opts.apphostPid);
  const parentPid = opts.parentPid ?? (() => process.ppid);
  if (!Number.isSafeInteger(apphost) || apphost <= 0 || parentPid() !== apphost) return undefined;
  const timer = setInterval(() => {
    if (parentPid() === apphost) return;
    clearInterval(timer);
    opts.onGone();
  }, opts.intervalMs ?? 1_000);
  // The watch alone must not keep the process alive.
  timer.unref();
  return () => clearInterval(timer);
}
