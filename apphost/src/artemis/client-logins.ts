// The broker's users as a provider creates them: the AppHost's own (admin) user, and one user per
// client of the model with a password generated once and kept in settings.json (0600).

import type { ArtemisResource } from "../model/artemis.js";
import type { SettingsStore } from "../runtime/settings-store.js";
import type { BrokerClient } from "./security.js";

/** The AppHost's own broker user: topology verification, queue stats, the dashboard, tests' tools. */
export const ARTEMIS_ADMIN_USER = "artemis";

/** Every client of the broker with its permissions and its own password (generated once, stored). */
export function brokerClientLogins(
  resource: ArtemisResource,
  settings: SettingsStore,
): Array<BrokerClient & { password: string }> {
  return resource
    .clients()
    .map((client) => ({ ...client, password: settings.secret(resource.name, `${client.name}-password`) }));
}

/** The clients' credentials as the connection info carries them: each service is injected its own. */
export function clientCredentials(
  clients: Array<{ name: string; password: string }>,
): Record<string, { username: string; password: string }> {
  return Object.fromEntries(clients.map((c) => [c.name, { username: c.name, password: c.password }]));
}
