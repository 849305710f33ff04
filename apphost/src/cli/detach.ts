import { spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { readControlFile, isProcessAlive, CliError } from "./state-files.js";

export interface DetachOptions {
  stateDir: string;
  /** The CLI's own arguments, without --detach. */
  args: string[];
  cliPath: string;
  print: (text: string) => void;
  timeoutMs?: number;
}

/**
 * `--detach`: starts the AppHost as a background process (its own session, console output in
 * `<state dir>/logs/apphost-console.log`), waits until every resource is healthy, prints where
 * things are and returns. `apphost stop` ends it.
 */
export async function detach(options: DetachOptions): Promise<number> {
  const { stateDir, print } = options;
  const logDir = path.join(stateDir, "logs");
  await fsp.mkdir(logDir, { recursive: true, mode: 0o700 });
  const consoleLog = path.join(logDir, "apphost-console.log");
  const out = fs.openSync(consoleLog, "a", 0o600);
  const child = spawn(process.execPath, [...process.execArgv, options.cliPath, ...options.args], {
    detached: true,
    stdio: ["ignore", out, out],
    env: { ...process.env, APPHOST_DETACHED: "1" },
  });
  fs.closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new CliError("could not start the AppHost in the background");
  let exitCode: number | null | undefined;
  child.on("exit", (code) => (exitCode = code));
  child.unref();
  print(`AppHost starting in the background (pid ${pid}); console output: ${consoleLog}`);

  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  for (;;) {
    const control = await readControlFile(stateDir).catch(() => undefined);
    if (control?.pid === pid && control.ready) {
      print(`dashboard: ${control.loginUrl ?? `${control.dashboardUrl}/login`}`);
      print("status: npm run apphost -- status    stop: npm run apphost -- stop");
      return 0;
    }
    if (exitCode !== undefined || !isProcessAlive(pid)) {
      const tail = (await fsp.readFile(consoleLog, "utf8").catch(() => "")).split("\n").slice(-30).join("\n");
      print(tail);
      throw new CliError(
        `the AppHost exited during start-up (code ${exitCode ?? "unknown"}); see ${consoleLog}`,
      );
    }
    if (Date.now() > deadline)
      throw new CliError(`the AppHost (pid ${pid}) was not ready in time; see ${consoleLog}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
