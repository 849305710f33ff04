export interface LastResortOptions {
  /** Ordered, graceful stop of every resource the AppHost started. */
  stop: () => Promise<void>;
  /** SIGKILL to every process group: used when the graceful stop fails or overruns. */
  kill: () => Promise<void>;
  log: (message: string) => void;
  /** How long the graceful stop may take before everything is killed (default 30 s). */
  stopTimeoutMs?: number;
  /** Default process.exit; tests replace it. */
  exit?: (code: number) => void;
}

/**
 * The AppHost's last line of defence: an exception nobody caught, or a rejection nobody handled,
 * must not end the AppHost and leave PostgreSQL, Artemis and the services running without a
 * parent. It logs the error, stops every child (killing them if the stop fails or takes too
 * long), then exits with code 1. Returns a function that removes the handlers.
 */
export function installLastResort(options: LastResortOptions): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let handling = false;
  const onFatal = (kind: string, error: unknown): void => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    if (handling) {
      options.log(`${kind} while stopping after an earlier one: ${text}`);
      return;
    }
    handling = true;
    options.log(`${kind}: ${text}`);
    options.log("the AppHost cannot continue safely: stopping every resource, then exiting");
    void stopEverything(options).then(() => exit(1));
  };
  const onException = (error: unknown) => onFatal("uncaught exception", error);
  const onRejection = (reason: unknown) => onFatal("unhandled promise rejection", reason);
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}

async function stopEverything(options: LastResortOptions): Promise<void> {
  const timeoutMs = options.stopTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([
      Promise.resolve()
        .then(options.stop)
        .then(
          () => "stopped" as const,
          (error: unknown) => error,
        ),
      overrun,
    ]);
    if (outcome === "stopped") {
      options.log("every resource stopped");
      return;
    }
    options.log(
      outcome === "timeout"
        ? `graceful stop took longer than ${timeoutMs} ms: killing every resource`
        : `graceful stop failed (${outcome instanceof Error ? outcome.message : String(outcome)}): killing every resource`,
    );
    await options.kill().catch((error: unknown) => options.log(`kill failed: ${String(error)}`));
  } finally {
    clearTimeout(timer);
  }
}
