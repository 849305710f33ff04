/**
 * Signals a process's whole group (a service or server and the children it started), or the
 * process alone when it leads no group; a process that is gone already is not an error.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // gone: whoever waits on it notices
    }
  }
}
