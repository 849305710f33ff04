// Applies the database migrations and exits: the step that runs before the service starts, with the
// owner's URL as SENDERDB_MIGRATIONS_URI (else the connection string: a single-role deployment). The
// AppHost runs it for withMigrations(); the service itself only checks the schema at start-up.
// Concurrent runs take the same advisory lock, and applied migrations are skipped.
import { migrationsUrlFromEnv, retryWhileUnreachable } from "@outbox/service-defaults";
import { createPool } from "./data/db.js";
import { runMigrations } from "./data/migrate.js";

const pool = createPool({
  url: migrationsUrlFromEnv(process.env, "senderdb"),
  max: 1,
  applicationName: "sender-migrate",
  onError: () => undefined,
});
try {
  await retryWhileUnreachable(() => runMigrations(pool), {
    waitMs: 60_000,
    onRetry: (error, attempt) =>
      process.stderr.write(`database not reachable yet (attempt ${attempt}): ${(error as Error).message}\n`),
  });
  process.stdout.write("sender database migrations applied\n");
} catch (error) {
  // One line that says why: whoever runs the step (the AppHost, an init container) shows it.
  process.stderr.write(`sender database migrations failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await pool.end();
}
