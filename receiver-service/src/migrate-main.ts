// Applies the database migrations and exits: what a deployment runs before the service starts
// (the Kubernetes init container of the published manifests). The service applies them at start-up
// too; both take the same advisory lock, and applied migrations are skipped.
import { postgresUrlFromEnv, retryWhileUnreachable } from "@outbox/service-defaults";
import { createPool, runMigrations } from "./data/db.js";

const pool = createPool({
  url: postgresUrlFromEnv(process.env, "receiverdb"),
  max: 1,
  onIdleError: () => undefined,
});
try {
  await retryWhileUnreachable(() => runMigrations(pool), {
    waitMs: 60_000,
    onRetry: (error, attempt) =>
      process.stderr.write(`database not reachable yet (attempt ${attempt}): ${(error as Error).message}\n`),
  });
  process.stdout.write("receiver database migrations applied\n");
} finally {
  await pool.end();
}
