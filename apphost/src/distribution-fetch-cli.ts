// What the distribution fetch CLIs share (artemis/fetch-cli.ts, kafka/fetch-cli.ts, used by CI):
// `--version x` picks a version, progress goes to stderr, stdout is just the directory.

export interface FetchedDistribution {
  version: string;
  source: string;
  home: string;
}

export async function runDistributionFetchCli(
  product: string,
  ensure: (options: { version?: string; log: (line: string) => void }) => Promise<FetchedDistribution>,
): Promise<void> {
  try {
    const argv = process.argv.slice(2);
    const i = argv.indexOf("--version");
    const version = i >= 0 ? argv[i + 1] : undefined;
    const started = Date.now();
    const dist = await ensure({
      ...(version ? { version } : {}),
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stderr.write(
      `${product} ${dist.version} (${dist.source}) in ${String(Date.now() - started)} ms\n`,
    );
    process.stdout.write(`${dist.home}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
