/** Variables of the AppHost's own environment every child gets: what programs need to run at all. */
const BASE_NAMES = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "TMPDIR",
  "TZ",
  "LANG",
  "LANGUAGE",
  "TERM",
  "JAVA_HOME",
  // Trust stores the machine's TLS set-up may rely on.
  "NODE_EXTRA_CA_CERTS",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
];

/** Extra names (or `PREFIX_*` patterns) passed through, comma-separated. */
export const ENV_ALLOWLIST_VARIABLE = "APPHOST_CHILD_ENV_ALLOWLIST";

/**
 * The environment of a child the AppHost starts: PATH, HOME, the locale and a few other basics from
 * the AppHost's environment, whatever APPHOST_CHILD_ENV_ALLOWLIST names, and the variables the
 * AppHost injects — never the rest of its environment (cloud credentials, tokens, other apps'
 * settings a developer happens to have exported).
 */
export function childEnvironment(
  injected: Record<string, string>,
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const patterns = (parent[ENV_ALLOWLIST_VARIABLE] ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  const allowed = (name: string): boolean =>
    BASE_NAMES.includes(name) ||
    name.startsWith("LC_") ||
    patterns.some((p) => (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent))
    if (value !== undefined && allowed(name)) env[name] = value;
  return { ...env, ...injected };
}
