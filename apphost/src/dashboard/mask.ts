/**
 * Names whose values are secrets, as glob patterns (case-insensitive): `*_PASS*` (PASSWORD,
 * PASSPHRASE), `*_PWD`, `*_KEY`, `*TOKEN*`, `*SECRET*`, plus a few spelled differently.
 */
export const SECRET_NAME_PATTERNS = [
  "*_PASS*",
  "PASS*",
  "*PASSWORD*",
  "*_PWD",
  "PWD_*",
  "*_KEY",
  "*_KEY_*",
  "*APIKEY*",
  "*TOKEN*",
  "*SECRET*",
  "*PRIVATE*",
  "*CREDENTIAL*",
  "OTEL_EXPORTER_OTLP*HEADERS",
];

const SECRET_NAME = new RegExp(
  `^(?:${SECRET_NAME_PATTERNS.map((p) => p.split("*").map(escapeRegExp).join(".*")).join("|")})$`,
  "i",
);

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * Hides the credentials inside a value: the password of `scheme://user:password@host` URLs and
 * of `key=value` connection strings (`Password=…;`, libpq's `password=…`).
 */
export function maskCredentials(value: string): string {
  return value
    .replace(/(\/\/[^:/@\s]*:)[^@\s]*@/g, "$1***@")
    .replace(/\b((?:password|pwd|pass|secret|token|api_?key)\s*=\s*)(?:'[^']*'|"[^"]*"|[^;\s&]*)/gi, "$1***");
}

/**
 * Environment for display: secret-looking names are replaced by `***`, credentials inside other
 * values (connection strings) are masked, everything else is shown as is.
 */
export function maskEnvironment(env: Record<string, string>): Record<string, string> {
  const masked: Record<string, string> = {};
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (isSecretName(name)) masked[name] = value === "" ? "" : "***";
    else masked[name] = maskCredentials(value);
  }
  return masked;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
