import { createInterface } from "node:readline/promises";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import { ControlClient } from "./control-client.js";
import { CliError, requireRunningAppHost } from "./state-files.js";

/** `apphost command <resource> <command> [--yes]`: runs a resource's custom command in the running AppHost. */
export async function commandVerb(
  stateDir: string,
  resource: string,
  command: string,
  yes: boolean,
  print: (text: string) => void,
): Promise<number> {
  const client = new ControlClient(await requireRunningAppHost(stateDir));
  const found = (await client.get<ResourceSnapshot[]>("/api/resources")).find((r) => r.name === resource);
  if (!found) throw new CliError(`No resource named "${resource}"`, 2);
  const info = found.commands?.find((c) => c.name === command);
  if (!info) {
    const have = (found.commands ?? []).map((c) => `${c.name} (${c.label})`).join(", ") || "none";
    throw new CliError(`"${resource}" has no command "${command}"; it has: ${have}`, 2);
  }
  if (info.confirm && !yes) {
    if (!process.stdin.isTTY) throw new CliError(`${info.confirm}\nRun again with --yes to confirm.`, 2);
    const prompt = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await prompt.question(`${info.confirm} [y/N] `);
    prompt.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      print("cancelled");
      return 1;
    }
  }
  const result = await client.post<{ ok: boolean; message?: string }>(
    `/api/resources/${encodeURIComponent(resource)}/commands/${encodeURIComponent(command)}`,
  );
  print(`${info.label}: ${result.message ?? "done"}`);
  return 0;
}
