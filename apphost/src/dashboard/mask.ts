/** Variable names whose values are secrets (whole value hidden). */
const SECRET_NAME = /(PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|OTEL_EXPORTER_OTLP_HEADERS)/i;

/**
 * Environment for display: secret-looking names are replaced by `***`, passwords inside URLs
 * (connection strings) are masked, everything else is shown as is.
 */
export function maskEnvironment(env: Record<string, string>): Record<string, string> {
  const masked: Record<string, string> = {};
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (SECRET_NAME.test(name)) masked[name] = value === "" ? "" : "***";
    else masked[name] = value.replace(/(\/\/[^:/@\s]+:)[^@\s]*@/g, "$1***@");
  }
  return masked;
}
