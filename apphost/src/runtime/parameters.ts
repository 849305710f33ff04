import type { ParameterResource } from "../model/parameter.js";
import { generatePassword } from "./files.js";
import type { ResourceProvider, StartContext, StartedResource } from "./provider.js";
import type { SettingsStore } from "./settings-store.js";

export type ParameterSource = "environment" | "settings" | "default" | "generated";

export interface ResolvedParameter {
  value: string;
  source: ParameterSource;
}

/** Environment variable, then stored settings, then the default, then (secrets only) a generated, stored value. */
export function resolveParameter(
  parameter: ParameterResource,
  env: NodeJS.ProcessEnv,
  settings: SettingsStore,
): ResolvedParameter {
  for (const name of parameter.environmentNames()) {
    const value = env[name];
    if (value !== undefined) return { value, source: "environment" };
  }
  const stored = settings.value(parameter.name);
  if (stored !== undefined) return { value: stored, source: "settings" };
  if (parameter.defaultValue !== undefined) return { value: parameter.defaultValue, source: "default" };
  if (parameter.secret) {
    const generated = generatePassword(32);
    settings.setValue(parameter.name, generated);
    return { value: generated, source: "generated" };
  }
  throw new Error(
    `Parameter "${parameter.name}" has no value: set ${parameter.environmentNames()[0]}, ` +
      `or "value" under "${parameter.name}" in the state directory's settings.json, or give it a default.`,
  );
}

/** A parameter "runs" once resolved: no process, always healthy, never exits. */
export class ParameterProvider implements ResourceProvider<ParameterResource> {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async start(parameter: ParameterResource, context: StartContext): Promise<StartedResource> {
    const resolved = resolveParameter(parameter, this.env, context.settings);
    if (resolved.source === "generated") await context.settings.save();
    context.log(
      `value from ${resolved.source}${parameter.secret ? " (secret, masked)" : `: ${resolved.value}`}`,
    );
    return {
      pid: undefined,
      endpoints: {},
      connection: undefined,
      value: resolved.value,
      exited: new Promise(() => {}),
      checkHealth: () => Promise.resolve({ healthy: true }),
      stop: async () => {},
      kill: async () => {},
    };
  }
}

/** Replaces every occurrence of a secret value in `text` (values shorter than 4 characters are left: too many false hits). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let masked = text;
  for (const secret of secrets) if (secret.length >= 4) masked = masked.split(secret).join("***");
  return masked;
}
