// An AppHost-like process for the last-resort test: it runs one child in its own process group
// (as the AppHost runs PostgreSQL and Artemis), installs the last-resort handler, then fails the
// way stdin tells it to ("throw" or "reject").
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { LogSink } from "../../apphost/src/runtime/log-sink.js";
import { installLastResort } from "../../apphost/src/runtime/last-resort.js";
import { ManagedProcess } from "../../apphost/src/runtime/managed-process.js";

const logs = new LogSink({ directory: path.join(os.tmpdir(), `last-resort-${process.pid}`), console: false });
const child = new ManagedProcess("sleeper", { command: "sleep", args: ["600"], cwd: "/", env: {} }, logs);
installLastResort({
  stop: async () => {
    process.stdout.write("stopping sleeper\n");
    await child.stop("SIGTERM", 5000);
  },
  kill: async () => void (await child.kill()),
  log: (message) => process.stdout.write(`last-resort | ${message}\n`),
});
process.stdout.write(`READY ${child.pid}\n`);
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "throw")
    setTimeout(() => {
      throw new Error("boom from a timer");
    });
  if (line === "reject") void Promise.reject(new Error("rejected and forgotten"));
});
