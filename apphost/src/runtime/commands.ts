import type { CommandResult } from "../model/commands.js";
import type { Resource } from "../model/resource.js";
import type { StartedResource } from "./provider.js";

/** Thrown for a command that does not exist or cannot run now (the dashboard answers 404/409). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly status: 404 | 409,
  ) {
    super(message);
  }
}

const COMMAND_TIMEOUT_MS = 60_000;

/** Runs `command` of a running resource with its endpoints and environment; logs the outcome to the resource's log. */
export async function runCommand(
  resource: Resource,
  started: StartedResource | undefined,
  command: string,
  log: (message: string) => void,
): Promise<CommandResult> {
  const found = resource.commands.find((c) => c.name === command);
  if (!found)
    throw new CommandError(
      `"${resource.name}" has no command "${command}" (have: ${resource.commands.map((c) => c.name).join(", ") || "none"})`,
      404,
    );
  if (!started) throw new CommandError(`"${resource.name}" is not running`, 409);
  log(`command "${found.label}" started`);
  try {
    const result =
      (await found.handler({
        resource: resource.name,
        endpoints: started.endpoints,
        environment: started.environment ?? {},
        signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS),
      })) ?? {};
    log(`command "${found.label}" succeeded${result.message ? `: ${result.message}` : ""}`);
    return result;
  } catch (error) {
    log(`command "${found.label}" failed: ${(error as Error).message}`);
    throw error;
  }
}
