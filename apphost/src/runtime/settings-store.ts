import { readFileSync } from "node:fs";
import { generatePassword, readJsonFile, writeFileAtomic } from "./files.js";

interface ResourceSettings {
  secrets?: Record<string, string>;
  ports?: Record<string, number>;
  /** A parameter's stored value (set by hand, or generated for a secret). */
  value?: string;
}

/**
 * Generated credentials and chosen ports, kept in `.apphost/settings.json` (mode 0600) so that data
 * created in one run stays reachable in the next and URLs stay the same.
 */
export class SettingsStore {
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly data: Record<string, ResourceSettings>,
  ) {}

  static async load(file: string): Promise<SettingsStore> {
    return new SettingsStore(file, (await readJsonFile<Record<string, ResourceSettings>>(file)) ?? {});
  }

  /** The credentials a settings file holds, read synchronously (none when it is missing or unreadable). */
  static storedSecretValues(file: string): string[] {
    try {
      const data = JSON.parse(readFileSync(file, "utf8")) as Record<string, ResourceSettings>;
      return Object.values(data).flatMap((entry) =>
        Object.values(entry.secrets ?? {}).filter((v): v is string => typeof v === "string"),
      );
    } catch {
      return [];
    }
  }

  /** The stored secret, or a newly generated one that is stored. */
  secret(resource: string, key: string): string {
    const entry = (this.data[resource] ??= {});
    const secrets = (entry.secrets ??= {});
    return (secrets[key] ??= generatePassword());
  }

  /** Every generated credential stored so far (passwords, tokens), for masking. */
  secretValues(): string[] {
    return Object.values(this.data).flatMap((entry) => Object.values(entry.secrets ?? {}));
  }

  /** A parameter's stored value. */
  value(resource: string): string | undefined {
    return this.data[resource]?.value;
  }

  setValue(resource: string, value: string): void {
    (this.data[resource] ??= {}).value = value;
  }

  port(resource: string, key: string): number | undefined {
    return this.data[resource]?.ports?.[key];
  }

  setPort(resource: string, key: string, port: number): void {
    const entry = (this.data[resource] ??= {});
    (entry.ports ??= {})[key] = port;
  }

  /**
   * Saves run one after another, each writing the data as it is when it runs: resources start
   * concurrently and each saves, and an older snapshot renamed last would drop a newer secret.
   */
  save(): Promise<void> {
    const next = this.saving.then(() =>
      writeFileAtomic(this.file, `${JSON.stringify(this.data, null, 2)}\n`),
    );
    this.saving = next.catch(() => {});
    return next;
  }
}
