import { defineConfig } from "drizzle-kit";

// `npx drizzle-kit generate` (run in sender-service/) writes SQL migrations to ./drizzle, which
// are committed and applied at start-up by src/data/migrate.ts. No database is needed to generate.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/data/schema.ts",
  out: "./drizzle",
});
