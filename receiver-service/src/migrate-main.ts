// Applies the database migrations and exits: the step that runs before the service starts, with the
// owner's URL as RECEIVERDB_MIGRATIONS_URI (else the connection string: a single-role deployment).
// The AppHost runs it for withMigrations(); the service itself only checks the schema at start-up.
// Concurrent runs take the same advisory lock, and applied migrations are skipped.
import { migrationsUrlFromEnv, retryWhileUnreachable } from "@outbox/service-defaults";
import { createPool, runMigrations } from "./data/db.js";

const pool = createPool({
  url: migrationsUrlFromEnv(process.env, "receiverdb"),
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
} catch (error) {
  // One line that says why: whoever runs the step (the AppHost, an init container) shows it.
  process.stderr.write(`receiver database migrations failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await pool.end();
}
