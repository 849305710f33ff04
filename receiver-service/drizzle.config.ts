import { defineConfig } from "drizzle-kit";

// `npx drizzle-kit generate` (run from receiver-service/) writes SQL migrations into ./drizzle;
// they are committed and applied at start-up by migrate() (src/data/db.ts). No database needed.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/data/schema.ts",
  out: "./drizzle",
});
