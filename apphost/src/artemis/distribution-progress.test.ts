import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ensureArtemisDistribution, type DownloadProgress } from "./distribution.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("Artemis download progress", () => {
  it("reports bytes received and the total while downloading over the HTTPS path, then done", async () => {
    const version = "2.99.0";
    const work = await fs.mkdtemp(path.join(os.tmpdir(), "artemis-progress-"));
    cleanups.push(() => fs.rm(work, { recursive: true, force: true }));
    // A distribution-shaped archive, padded so that it arrives in several chunks.
    const tree = path.join(work, "tree", `apache-artemis-${version}`);
    await fs.mkdir(path.join(tree, "bin"), { recursive: true });
    await fs.writeFile(path.join(tree, "bin", "artemis"), "#!/bin/sh\n", { mode: 0o755 });
    const { randomBytes } = await import("node:crypto");
    await fs.writeFile(path.join(tree, "padding.bin"), randomBytes(2 * 1024 * 1024));
    const archive = path.join(work, "archive.tar.gz");
    execFileSync("tar", ["-czf", archive, "-C", path.join(work, "tree"), `apache-artemis-${version}`]);
    const body = await fs.readFile(archive);
    const sha512 = createHash("sha512").update(body).digest("hex");

    const server = http.createServer((req, res) => {
      const file = `/org/apache/artemis/apache-artemis/${version}/apache-artemis-${version}-bin.tar.gz`;
      if (req.url === file) res.writeHead(200, { "content-length": body.length }).end(body);
      else if (req.url === `${file}.sha512`) res.end(`${sha512}  apache-artemis-${version}-bin.tar.gz\n`);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));

    const events: DownloadProgress[] = [];
    const logs: string[] = [];
    const distribution = await ensureArtemisDistribution({
      version,
      cacheDir: path.join(work, "cache"),
      // No mvn on this PATH: the HTTPS path (here plain HTTP on loopback) is the one taken.
      env: {
        PATH: path.join(work, "no-bin"),
        OUTBOX_APPHOST_MAVEN_REPOSITORY: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      },
      log: (line) => logs.push(line),
      progress: (event) => events.push(event),
    });

    expect(distribution.source).toBe("https");
    expect(events.length).toBeGreaterThan(2);
    expect(events.every((e) => e.via === "https" && e.what === `Artemis ${version}`)).toBe(true);
    const received = events.map((e) => e.receivedBytes);
    expect([...received].sort((a, b) => a - b)).toEqual(received);
    expect(events.slice(0, -1).every((e) => !e.done && e.totalBytes === body.length)).toBe(true);
    expect(events.at(-1)).toMatchObject({ done: true, receivedBytes: body.length, totalBytes: body.length });
    // The details stay in the log, for the resource's log file.
    expect(logs.some((l) => l.includes("SHA512 verified"))).toBe(true);
  });
});
