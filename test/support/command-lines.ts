import fs from "node:fs/promises";

/** Every process's command line now, from /proc (as root: every user's and every container's). */
export async function commandLines(): Promise<Map<number, string>> {
  const lines = new Map<number, string>();
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    // A process may exit between the listing and the read.
    const raw = await fs.readFile(`/proc/${entry}/cmdline`).catch(() => undefined);
    if (raw && raw.length > 0)
      lines.set(Number(entry), raw.toString("utf8").replace(/\0+$/, "").split("\0").join(" "));
  }
  return lines;
}

export interface CommandLineWatch {
  /** Stops sampling; resolves with every distinct command line seen. */
  stop(): Promise<string[]>;
}

/**
 * Samples every process's command line until stopped, so that short-lived processes (a broker's
 * `artemis create`, a health check) are seen too: a secret must not appear even for a moment.
 */
export function watchCommandLines(intervalMs = 50): CommandLineWatch {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const line of (await commandLines()).values()) seen.add(line);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    for (const line of (await commandLines()).values()) seen.add(line);
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...seen];
    },
  };
}

/** The command lines that contain any of the secrets, each with the secret replaced by a marker. */
export function linesWithSecrets(lines: readonly string[], secrets: readonly string[]): string[] {
  return lines.flatMap((line) => {
    const found = secrets.filter((s) => s.length >= 4 && line.includes(s));
    return found.length === 0 ? [] : [found.reduce((l, s) => l.split(s).join("<SECRET>"), line)];
  });
}
