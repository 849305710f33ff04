import { parameterKind } from "../kinds/parameter.js";
import { Resource, type ReferenceTarget } from "./resource.js";

export interface ParameterOptions {
  /** A secret is generated when nothing provides a value, and is masked wherever it is shown. */
  secret?: boolean;
  /** Used when neither the environment nor the stored settings provide a value. */
  default?: string;
}

/**
 * A value supplied from outside the model, like Aspire's `AddParameter`. Resolved at start, in
 * this order: the environment variable `Parameters__<name>` (or `Parameters__<name_with_underscores>`,
 * which a shell can set), the value stored in `.apphost/settings.json` (mode 0600), the default,
 * and for a secret a generated value that is then stored. A service references it with
 * `withReference(parameter)` (injected as `Parameters__<name>`) or
 * `withEnvironment("NAME", parameter)`.
 */
export class ParameterResource extends Resource implements ReferenceTarget {
  readonly secret: boolean;
  readonly defaultValue: string | undefined;

  constructor(name: string, options: ParameterOptions = {}) {
    super(name, parameterKind);
    this.secret = options.secret ?? false;
    this.defaultValue = options.default;
  }

  get connectionName(): string {
    return this.name;
  }

  /** Environment variable names that set this parameter, in the order they are read. */
  environmentNames(): string[] {
    const names = [`Parameters__${this.name}`, `Parameters__${this.name.replaceAll("-", "_")}`];
    return [...new Set(names)];
  }
}
