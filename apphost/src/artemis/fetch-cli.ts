// Pre-downloads the Artemis distribution into the cache and prints its home (used by CI).
//   node --import tsx apphost/src/artemis/fetch-cli.ts [--version 2.56.0]
// Progress goes to stderr so that stdout is just the path.

import { ensureArtemisDistribution } from "./distribution.js";

function versionArg(argv: string[]): string | undefined {
  const i = argv.indexOf("--version");
  return i >= 0 ? argv[i + 1] : undefined;
}

try {
  const version = versionArg(process.argv.slice(2));
  const started = Date.now();
  const dist = await ensureArtemisDistribution({
    ...(version ? { version } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stderr.write(`Artemis ${dist.version} (${dist.source}) in ${String(Date.now() - started)} ms\n`);
  process.stdout.write(`${dist.home}\n`);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
