// Applies the database migrations and exits: what a deployment runs before the service starts
// (the Kubernetes init container of the published manifests). The service applies them at start-up
// too; both take the same advisory lock, and applied migrations are skipped.
import { postgresUrlFromEnv } from "@outbox/service-defaults";
import { createPool, runMigrations } from "./data/db.js";

const pool = createPool({
  url: postgresUrlFromEnv(process.env, "receiverdb"),
  max: 1,
  onIdleError: () => undefined,
});
try {
  await runMigrations(pool);
  process.stdout.write("receiver database migrations applied\n");
} finally {
  await pool.end();
}
