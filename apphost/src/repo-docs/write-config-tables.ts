// `npm run docs:config`: rewrites the generated configuration tables in docs/ from the services'
// zod schemas (see config-tables.ts).
import { writeConfigTables } from "./config-tables.js";

const changed = await writeConfigTables();
process.stdout.write(
  changed.length === 0
    ? "config tables: already up to date\n"
    : `config tables: rewrote ${changed.join(", ")}\n`,
);
