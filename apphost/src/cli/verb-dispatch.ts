import path from "node:path";
import { parseArgs } from "node:util";
import type { ContributedTool } from "../dashboard/contribution.js";
import { CliError } from "./state-files.js";
import { logsVerb, restartVerb, statusVerb, stopVerb } from "./verbs.js";

export const VERB_USAGE = `Verbs (for an AppHost started with --detach, or running in another terminal):
  status                           resources, state and URLs (from state.json)
  logs <resource> [-f] [-n <lines>] a resource's log; -f follows it
  restart <resource>               restart one resource and wait until it is healthy
  command <resource> <name> [--yes] run a resource's custom command (buttons on the Resources page)
  stop                             stop a detached AppHost (everything, in reverse order)
  mcp                              MCP server over stdio for coding agents: resources, logs, traces, restart, and tools the model contributes
  Each takes --state-dir <dir> (default: .apphost next to the model file).
`;

export const VERBS = new Set(["status", "logs", "restart", "command", "stop", "mcp"]);

/**
 * Runs `apphost <verb> ...`; returns the exit code. `projectRoot` finds the model file's directory
 * (whose .apphost/ is the default state directory); it is not called when --state-dir is given.
 * `contributedTools` loads the model's dashboard contributions' MCP tools (`mcp` only).
 */
export async function runVerb(
  verb: string,
  argv: string[],
  projectRoot: () => string,
  contributedTools: () => Promise<readonly ContributedTool[]> = () => Promise.resolve([]),
): Promise<number> {
  const print = (text: string) => process.stdout.write(`${text}\n`);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        "state-dir": { type: "string" },
        follow: { type: "boolean", short: "f", default: false },
        lines: { type: "string", short: "n", default: "100" },
        yes: { type: "boolean", short: "y", default: false },
      },
      strict: true,
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${VERB_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const need = (count: number, what: string) => {
    if (positionals.length !== count) throw new CliError(`usage: npm run apphost -- ${verb} ${what}`, 2);
  };
  try {
    const stateDir = path.resolve(values["state-dir"] ?? path.join(projectRoot(), ".apphost"));
    switch (verb) {
      case "status":
        need(0, "");
        return await statusVerb(stateDir, print);
      case "logs": {
        need(1, "<resource> [-f] [-n <lines>]");
        const tail = Number(values.lines);
        if (!Number.isInteger(tail) || tail < 0)
          throw new CliError(`-n must be a number of lines (got "${values.lines}")`, 2);
        const abort = new AbortController();
        process.once("SIGINT", () => abort.abort());
        process.once("SIGTERM", () => abort.abort());
        return await logsVerb(
          stateDir,
          positionals[0] ?? "",
          { follow: values.follow, tail, signal: abort.signal },
          print,
        );
      }
      case "restart":
        need(1, "<resource>");
        return await restartVerb(stateDir, positionals[0] ?? "", print);
      case "command": {
        need(2, "<resource> <command> [--yes]");
        const { commandVerb } = await import("./command-verb.js");
        return await commandVerb(stateDir, positionals[0] ?? "", positionals[1] ?? "", values.yes, print);
      }
      case "mcp": {
        need(0, "");
        const { serveMcp } = await import("../mcp/server.js");
        return await serveMcp(stateDir, await contributedTools());
      }
      case "stop":
        need(0, "");
        return await stopVerb(stateDir, print);
      default:
        throw new CliError(`unknown verb "${verb}"\n\n${VERB_USAGE}`, 2);
    }
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`apphost | ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}
