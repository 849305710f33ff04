// Pre-downloads the Kafka broker's jars into the cache and prints their directory (used by CI).
//   node --import tsx apphost/src/kafka/fetch-cli.ts [--version 4.4.0]
// Progress goes to stderr so that stdout is just the path.

import { ensureKafkaDistribution } from "./distribution.js";

function versionArg(argv: string[]): string | undefined {
  const i = argv.indexOf("--version");
  return i >= 0 ? argv[i + 1] : undefined;
}

try {
  const version = versionArg(process.argv.slice(2));
  const started = Date.now();
  const dist = await ensureKafkaDistribution({
    ...(version ? { version } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stderr.write(`Kafka ${dist.version} (${dist.source}) in ${String(Date.now() - started)} ms\n`);
  process.stdout.write(`${dist.home}\n`);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
