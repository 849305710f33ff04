import type { LogSink } from "../../runtime/log-sink.js";
import { ManagedProcess, type ProcessSpec } from "../../runtime/managed-process.js";
import { isPortOpen } from "../../runtime/ports.js";
import { waitUntil } from "../../runtime/wait.js";

export interface JavaBrokerStart {
  /** The resource name (log lines are matched by it). */
  name: string;
  /** "Artemis", "Kafka": for the messages. */
  product: string;
  spec: ProcessSpec;
  logs: LogSink;
  /** The log text that says the broker is up (its port may open a moment before or after). */
  readyLine: string;
  host: string;
  port: number;
  signal: AbortSignal;
}

/**
 * Starts a JVM broker (Artemis, Kafka) and resolves once its ready line was logged and its port
 * accepts; a start that fails or is cancelled leaves no process behind.
 */
export async function startJavaBroker(start: JavaBrokerStart): Promise<ManagedProcess> {
  let ready = false;
  const stopWatching = start.logs.onLine((line) => {
    if (line.resource === start.name && line.text.includes(start.readyLine)) ready = true;
  });
  const child = new ManagedProcess(start.name, start.spec, start.logs);
  try {
    await waitUntil(
      async () => {
        if (!child.running) throw new Error(`${start.product} exited during start-up`);
        return ready && (await isPortOpen(start.port, start.host));
      },
      {
        timeoutMs: 120_000,
        intervalMs: 100,
        signal: start.signal,
        what: `${start.product} "${start.name}" (${start.readyLine})`,
      },
    );
    return child;
  } catch (error) {
    await child.stop("SIGTERM", 10_000);
    throw error;
  } finally {
    stopWatching();
  }
}
