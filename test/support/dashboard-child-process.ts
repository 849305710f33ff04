import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { repositoryRoot } from "@outbox/apphost/testing";

/** The dashboard alone in a child process (test/support/dashboard-child.ts), with its fixed secrets. */
export interface DashboardChild {
  /** `127.0.0.1:<port>` */
  port: number;
  /** `http://127.0.0.1:<port>`: OTLP and tools. */
  machineUrl: string;
  /** `http://apphost-<port>-<label>.localhost:<port>`: pages, login, sessions. */
  browserUrl: string;
  /** `apphost-<port>-<label>.localhost:<port>`, for raw requests' Host header. */
  browserHost: string;
  secrets: { loginToken: string; otlpApiKey: string; toolToken: string };
  /** undefined while it runs. */
  exitCode(): number | null | undefined;
  output(): string;
  stop(): Promise<void>;
}

export async function startDashboardChild(): Promise<DashboardChild> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "--conditions=outbox-source",
      "--import",
      "tsx",
      path.join(repositoryRoot, "test/support/dashboard-child.ts"),
    ],
    { cwd: repositoryRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  let exitCode: number | null | undefined;
  let output = "";
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code) => {
      exitCode = code;
      resolve();
    }),
  );
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const stop = async (): Promise<void> => {
    if (exitCode === undefined) {
      child.kill("SIGKILL");
      await exited;
    }
    await fs.rm(path.join(os.tmpdir(), `dashboard-fuzz-${child.pid}`), { recursive: true, force: true });
  };
  try {
    const [machineUrl, browserUrl] = await new Promise<[string, string]>((resolve, reject) => {
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
        const match = /LISTENING (http:\/\/127\.0\.0\.1:\d+) (http:\/\/\S+)/.exec(output);
        if (match?.[1] && match[2]) resolve([match[1], match[2]]);
      });
      void exited.then(() => reject(new Error(`dashboard exited before listening:\n${output}`)));
    });
    return {
      port: Number(new URL(machineUrl).port),
      machineUrl,
      browserUrl,
      browserHost: new URL(browserUrl).host,
      secrets: { loginToken: "l".repeat(48), otlpApiKey: "k".repeat(48), toolToken: "b".repeat(48) },
      exitCode: () => exitCode,
      output: () => output,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
