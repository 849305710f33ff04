/** What a custom command's handler gets: the running resource's endpoints and injected environment. */
export interface CommandContext {
  resource: string;
  endpoints: Record<string, string>;
  /** The variables the AppHost injected into the resource (services only; unmasked). */
  environment: Record<string, string>;
  signal: AbortSignal;
}

/** A handler may say what it did; throwing reports a failure with the error's message. */
export interface CommandResult {
  message?: string;
}

export type CommandHandler = (context: CommandContext) => Promise<CommandResult | void>;

export interface CommandOptions {
  /** Asked before running (a confirmation dialog in the dashboard, `--yes` on the CLI). */
  confirm?: string;
  /** One line shown beside the button. */
  description?: string;
}

/** A custom resource command, like Aspire's `WithCommand`: a button on the Resources page and a CLI verb. */
export interface ResourceCommand extends CommandOptions {
  name: string;
  label: string;
  handler: CommandHandler;
}

/** The part of a command that is shown (dashboard, CLI, MCP); the handler stays in the AppHost. */
export interface CommandInfo {
  name: string;
  label: string;
  confirm?: string;
  description?: string;
}

const COMMAND_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export function assertCommandName(name: string): void {
  if (!COMMAND_NAME.test(name))
    throw new Error(
      `Invalid command name "${name}": use lower-case letters, digits and '-', starting with a letter.`,
    );
}
