// The bench's command line. Unknown flags fail: a mistyped flag must not silently run a
// 15-minute bench with other settings than the user asked for.

export interface BenchArgs {
  quick: boolean;
  json: boolean;
  help: boolean;
  /** Set with --baseline: the ref to compare against (null = the default, see baseline.ts). */
  baseline: { ref: string | null } | null;
  /** A/B rounds per side with --baseline (null = the mode's default). */
  rounds: number | null;
  /** Set with --transport: run that transport's stack only (null = Artemis, then Kafka beside it). */
  transport: BenchTransport | null;
}

export const BENCH_TRANSPORTS = ["artemis", "kafka"] as const;
export type BenchTransport = (typeof BENCH_TRANSPORTS)[number];

export const BENCH_USAGE = `npm run bench -- [--quick] [--json] [--transport artemis|kafka] [--baseline [<git-ref>]] [--rounds <n>]

  --quick              shorter phases (about 6 minutes instead of 15, Kafka's phases not counted)
  --transport <name>   run only that transport's phases; by default the Artemis run, then the
                       Kafka phases beside it (keys prefixed kafka_, ratios Kafka/Artemis)
  --json               print one JSON object as the last line of stdout
  --baseline [<ref>]   compare the services of <ref> (a temporary git worktree, npm ci) with this
                       tree's, in one run, rounds interleaved; prints ratios current/baseline.
                       Default ref: origin/main, else main.
  --rounds <n>         rounds per side with --baseline (default 3; fewer give no verdict)
  --help               this text`;

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = {
    quick: false,
    json: false,
    help: false,
    baseline: null,
    rounds: null,
    transport: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const next = argv[i + 1];
    if (arg === "--quick") args.quick = true;
    else if (arg === "--json") args.json = true;
    else if (arg === "--help" || arg === "-h") args.help = true;
    else if (arg === "--baseline") {
      // The ref is optional: the next word is it unless that is a flag.
      if (next !== undefined && !next.startsWith("-")) {
        args.baseline = { ref: next };
        i++;
      } else args.baseline = { ref: null };
    } else if (arg.startsWith("--baseline=")) {
      const ref = arg.slice("--baseline=".length);
      if (ref === "") throw new Error("--baseline= needs a git ref after the '='");
      args.baseline = { ref };
    } else if (arg === "--rounds" || arg.startsWith("--rounds=")) {
      const value = arg === "--rounds" ? next : arg.slice("--rounds=".length);
      if (arg === "--rounds") i++;
      const rounds = Number(value);
      if (value === undefined || !Number.isInteger(rounds) || rounds < 1 || rounds > 20)
        throw new Error(`--rounds must be a whole number from 1 to 20, got ${value ?? "nothing"}`);
      args.rounds = rounds;
    } else if (arg === "--transport" || arg.startsWith("--transport=")) {
      const value = arg === "--transport" ? next : arg.slice("--transport=".length);
      if (arg === "--transport") i++;
      const transport = BENCH_TRANSPORTS.find((t) => t === value);
      if (transport === undefined)
        throw new Error(
          `--transport must be one of ${BENCH_TRANSPORTS.join(", ")}, got ${value ?? "nothing"}`,
        );
      args.transport = transport;
    } else throw new Error(`unknown argument "${arg}"\n\n${BENCH_USAGE}`);
  }
  if (args.transport !== null && args.baseline !== null)
    throw new Error("--transport does not apply with --baseline (the comparison runs on Artemis)");
  if (args.rounds !== null && args.baseline === null)
    throw new Error("--rounds only applies with --baseline");
  return args;
}
