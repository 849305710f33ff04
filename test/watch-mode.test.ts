import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repositoryRoot } from "@outbox/apphost/testing";
import { isAlive } from "./support/process-alive.js";

const execFileAsync = promisify(execFile);
const cli = path.join(repositoryRoot, "apphost/src/cli.ts");

interface State {
  apphostPid: number;
  resources: Array<{ name: string; pid: number | null; state: string; health: string; startedAt?: string }>;
}

let stateDir: string;
const probe = path.join(repositoryRoot, "receiver-service", "src", `watch-probe-${process.pid}.ts`);
const readState = async () =>
  JSON.parse(await fs.readFile(path.join(stateDir, "state.json"), "utf8")) as State;

beforeAll(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-watch-"));
  await execFileAsync(
    process.execPath,
    [
      "--conditions=outbox-source",
      "--import",
      "tsx",
      cli,
      "--detach",
      "--watch",
      "--state-dir",
      stateDir,
      "--dashboard-port",
      "0",
    ],
    { cwd: repositoryRoot, timeout: 300_000 },
  );
});

afterAll(async () => {
  await fs.rm(probe, { force: true });
  const state = await readState().catch(() => undefined);
  if (state && isAlive(state.apphostPid)) {
    process.kill(state.apphostPid, "SIGTERM");
    const deadline = Date.now() + 60_000;
    while (isAlive(state.apphostPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (isAlive(state.apphostPid)) process.kill(state.apphostPid, "SIGKILL");
  }
  if (process.env.KEEP_APPHOST_STATE !== "1") await fs.rm(stateDir, { recursive: true, force: true });
});

describe("--watch", () => {
  it("restarts only the receiver when a receiver source file changes; infrastructure and the sender keep running", async () => {
    const before = await readState();
    const pid = (s: State, name: string) => s.resources.find((r) => r.name === name)?.pid;
    expect(before.resources.every((r) => r.state === "Running")).toBe(true);

    await fs.writeFile(probe, "// a new source file: the receiver restarts\nexport {};\n");

    const deadline = Date.now() + 120_000;
    let after = before;
    for (;;) {
      after = await readState();
      const receiver = after.resources.find((r) => r.name === "receiver");
      if (
        receiver?.state === "Running" &&
        receiver.health === "Healthy" &&
        receiver.pid !== pid(before, "receiver")
      )
        break;
      if (Date.now() > deadline) throw new Error(`receiver not restarted: ${JSON.stringify(receiver)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const name of ["sender", "broker", "sender-pg", "receiver-pg"])
      expect(pid(after, name), name).toBe(pid(before, name));

    // The restart is visible where users look: the resource's console on the dashboard and the AppHost's console.
    const control = JSON.parse(await fs.readFile(path.join(stateDir, "control.json"), "utf8")) as {
      dashboardUrl: string;
      token: string;
    };
    const lines = (await (
      await fetch(`${control.dashboardUrl}/api/console?resource=receiver&text=watch`, {
        headers: { authorization: `Bearer ${control.token}` },
      })
    ).json()) as Array<{ text: string }>;
    expect(lines.map((l) => l.text)).toContain(
      `[apphost] watch: receiver-service/src/watch-probe-${process.pid}.ts changed; restarting receiver`,
    );
    const console = await fs.readFile(path.join(stateDir, "logs", "apphost-console.log"), "utf8");
    expect(console).toMatch(/✓ receiver +restarted, healthy/);
    expect(console).not.toMatch(/✓ sender +restarted/);
  });
});
