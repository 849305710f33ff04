// `npm run build -w @outbox/apphost` (and `npm pack`, through prepack): compiles src/ to dist/ with
// declarations (tsconfig.build.json) and copies the files the code reads at run time next to the
// modules that read them. Images' build contexts (images/) ship as they are: the code finds them
// relative to the package root, the same from src/ and from dist/.

import { spawnSync } from "node:child_process";
import { cp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import process from "node:process";
import { fileURLToPath, URL } from "node:url";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const dist = fileURLToPath(new URL("../dist/", import.meta.url));

/** Read at run time through paths relative to the reading module (src/x → dist/x). */
const ASSETS = ["dashboard/ui", "dashboard/contributions/outbox-messaging/ui"];

// A clean build: a module deleted from src/ must not live on in dist/.
await rm(dist, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
  cwd: packageDir,
  stdio: "inherit",
});
if (result.status !== 0) {
  process.stderr.write(`build: tsc failed (exit ${result.status ?? result.signal})\n`);
  process.exit(1);
}

const src = fileURLToPath(new URL("../src/", import.meta.url));
for (const asset of ASSETS) await cp(path.join(src, asset), path.join(dist, asset), { recursive: true });
process.stdout.write(`build: ${dist}\n`);
