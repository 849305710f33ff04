import { existsSync } from "node:fs";
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_ARTEMIS_VERSION,
  acquireLock,
  PINNED_ARTEMIS_SHA512,
  artemisCacheDir,
  artemisDownloadUrl,
  artemisGroupId,
  artemisMavenArtifact,
  checksumMatches,
  ensureArtemisDistribution,
  fileDigest,
  installDistribution,
  parseChecksumFile,
} from "./distribution.js";

describe("Maven coordinates", () => {
  it("uses org.apache.artemis from 2.50 and org.apache.activemq before", () => {
    expect(artemisGroupId("2.56.0")).toBe("org.apache.artemis");
    expect(artemisGroupId("2.50.0")).toBe("org.apache.artemis");
    expect(artemisGroupId("3.0.0")).toBe("org.apache.artemis");
    expect(artemisGroupId("2.44.0")).toBe("org.apache.activemq");
    expect(() => artemisGroupId("latest")).toThrow(/Unrecognised Artemis version/);
  });

  it("builds the dependency:copy artifact and the Maven Central URL", () => {
    expect(artemisMavenArtifact("2.56.0")).toBe("org.apache.artemis:apache-artemis:2.56.0:tar.gz:bin");
    expect(artemisMavenArtifact("2.44.0")).toBe("org.apache.activemq:apache-artemis:2.44.0:tar.gz:bin");
    expect(artemisDownloadUrl("2.56.0")).toBe(
      "https://repo.maven.apache.org/maven2/org/apache/artemis/apache-artemis/2.56.0/apache-artemis-2.56.0-bin.tar.gz",
    );
    expect(artemisDownloadUrl("2.44.0", "https://mirror.example/m2/")).toBe(
      "https://mirror.example/m2/org/apache/activemq/apache-artemis/2.44.0/apache-artemis-2.44.0-bin.tar.gz",
    );
  });
});

describe("checksums", () => {
  it("reads bare and 'hash  file' checksum files", () => {
    const sha1 = "04fedcdb31d530e1ecb8b96732ecfe6d1deb3478";
    expect(parseChecksumFile(`${sha1}\n`)).toBe(sha1);
    expect(parseChecksumFile(`${sha1.toUpperCase()}  apache-artemis-2.56.0-bin.tar.gz\n`)).toBe(sha1);
    expect(() => parseChecksumFile("<html>404</html>")).toThrow(/Not a checksum file/);
  });

  it("compares case-insensitively and verifies a file digest", async () => {
    const dir = await mkdtemp(join(tmpdir(), "artemis-dist-test-"));
    const file = join(dir, "f");
    await writeFile(file, "hello\n");
    expect(await fileDigest(file, "sha1")).toBe("f572d396fae9206628714fb2ce00f72e94f2258f");
    expect(checksumMatches("F572D396FAE9206628714FB2CE00F72E94F2258F", await fileDigest(file, "sha1"))).toBe(
      true,
    );
    expect(checksumMatches("0".repeat(40), await fileDigest(file, "sha1"))).toBe(false);
  });
});

describe("locating the distribution", () => {
  it("derives the cache directory from the environment", () => {
    expect(artemisCacheDir({ OUTBOX_APPHOST_CACHE: "/c" })).toBe("/c");
    expect(artemisCacheDir({ XDG_CACHE_HOME: "/x" })).toBe("/x/outbox-apphost");
    expect(artemisCacheDir({ HOME: "/home/u" })).toBe("/home/u/.cache/outbox-apphost");
  });

  it("uses ARTEMIS_HOME when it is a distribution and fails clearly when not", async () => {
    const home = await mkdtemp(join(tmpdir(), "artemis-home-test-"));
    await expect(ensureArtemisDistribution({ env: { ARTEMIS_HOME: home } })).rejects.toThrow(
      /is not an Apache Artemis distribution/,
    );
    await mkdir(join(home, "bin"));
    await mkdir(join(home, "lib"));
    await writeFile(join(home, "bin", "artemis"), "#!/bin/sh\n");
    await writeFile(join(home, "lib", "artemis-server-2.56.0.jar"), "");
    expect(await ensureArtemisDistribution({ env: { ARTEMIS_HOME: home } })).toEqual({
      home,
      version: "2.56.0",
      source: "ARTEMIS_HOME",
    });
  });

  it("uses a cached extracted distribution without downloading", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "artemis-cache-test-"));
    const home = join(cacheDir, "artemis", "apache-artemis-2.56.0");
    await mkdir(join(home, "bin"), { recursive: true });
    await writeFile(join(home, "bin", "artemis"), "#!/bin/sh\n");
    expect(await ensureArtemisDistribution({ cacheDir, version: "2.56.0", env: { PATH: "" } })).toEqual({
      home,
      version: "2.56.0",
      source: "cache",
    });
  });
});

describe("pinned SHA-512", () => {
  async function fakeMvn(dir: string, archiveSource: string | undefined): Promise<string> {
    const bin = join(dir, "bin");
    await mkdir(bin, { recursive: true });
    // Writes whatever it was asked for into -DoutputDirectory: the given file as the archive, and
    // fails for anything else (a .sha512 artifact).
    await writeFile(
      join(bin, "mvn"),
      `#!/bin/sh
for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="\${arg#-DoutputDirectory=}";; -Dartifact=*) artifact="\${arg#-Dartifact=}";; esac; done
case "$artifact" in *:tar.gz:bin) ;; *) echo "not found: $artifact"; exit 1;; esac
version=$(echo "$artifact" | cut -d: -f3)
${archiveSource ? `cp "${archiveSource}" "$out/apache-artemis-$version-bin.tar.gz"` : `echo tampered > "$out/apache-artemis-$version-bin.tar.gz"`}
`,
      { mode: 0o755 },
    );
    return bin;
  }

  it("pins the default version", () => {
    expect(PINNED_ARTEMIS_SHA512[DEFAULT_ARTEMIS_VERSION]).toMatch(/^[0-9a-f]{128}$/);
  });

  it("refuses an archive from Maven whose SHA-512 is not the pinned one, and caches nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "artemis-pin-test-"));
    const bin = await fakeMvn(dir, undefined);
    const cacheDir = join(dir, "cache");
    await expect(
      ensureArtemisDistribution({ cacheDir, env: { PATH: `${bin}:/usr/bin:/bin` } }),
    ).rejects.toThrow(/SHA-512 mismatch/);
    expect(await readdir(join(cacheDir, "artemis"))).not.toContain(
      `apache-artemis-${DEFAULT_ARTEMIS_VERSION}`,
    );
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a version with no pin and no reachable published checksum", async () => {
    const dir = await mkdtemp(join(tmpdir(), "artemis-pin-test-"));
    const bin = await fakeMvn(dir, undefined);
    await expect(
      ensureArtemisDistribution({
        version: "2.55.0",
        cacheDir: join(dir, "cache"),
        env: { PATH: `${bin}:/usr/bin:/bin`, OUTBOX_APPHOST_MAVEN_REPOSITORY: "http://127.0.0.1:1" },
      }),
    ).rejects.toThrow(/Cannot verify Apache Artemis 2\.55\.0.*OUTBOX_ARTEMIS_SHA512/);
    await rm(dir, { recursive: true, force: true });
  });

  const m2Archive = join(
    homedir(),
    ".m2/repository/org/apache/artemis/apache-artemis",
    DEFAULT_ARTEMIS_VERSION,
    `apache-artemis-${DEFAULT_ARTEMIS_VERSION}-bin.tar.gz`,
  );
  it.runIf(existsSync(m2Archive))(
    "accepts the genuine archive through the Maven path",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "artemis-pin-test-"));
      const bin = await fakeMvn(dir, m2Archive);
      const lines: string[] = [];
      const dist = await ensureArtemisDistribution({
        cacheDir: join(dir, "cache"),
        env: { PATH: `${bin}:/usr/bin:/bin` },
        log: (line) => lines.push(line),
      });
      expect(dist.source).toBe("maven");
      expect(lines.join("\n")).toContain("verified against the pin");
      await rm(dir, { recursive: true, force: true });
    },
    60_000,
  );
});

describe("installing a downloaded distribution", () => {
  async function distribution(dir: string, marker: string): Promise<string> {
    await mkdir(join(dir, "bin"), { recursive: true });
    await writeFile(join(dir, "bin", "artemis"), "#!/bin/sh\n", { mode: 0o755 });
    await writeFile(join(dir, "marker"), marker);
    return dir;
  }

  it("keeps a complete distribution another process installed meanwhile, and replaces an incomplete one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "artemis-install-test-"));
    try {
      const home = join(dir, "cache", "apache-artemis-2.56.0");
      await mkdir(join(dir, "cache"));
      const work = await mkdtemp(join(dir, "work-"));
      // Nothing there yet: renamed into place.
      const first = await distribution(join(work, "x"), "first");
      expect(await installDistribution(first, home, work)).toBe("installed");
      // A second download finishing later keeps the first (an AppHost may run from it).
      const second = await distribution(join(work, "y"), "second");
      expect(await installDistribution(second, home, work)).toBe("existing");
      expect(await readFile(join(home, "marker"), "utf8")).toBe("first");
      // A directory without bin/artemis (not made by this code) is replaced.
      await rm(join(home, "bin"), { recursive: true });
      const third = await distribution(join(work, "z"), "third");
      expect(await installDistribution(third, home, work)).toBe("installed");
      expect(await readFile(join(home, "marker"), "utf8")).toBe("third");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the download lock", () => {
  it("is held by one caller at a time when several break a dead owner's lock at once", async () => {
    const dir = await mkdtemp(join(tmpdir(), "artemis-lock-test-"));
    try {
      const lock = join(dir, ".apache-artemis-2.56.0.lock");
      // No process can have this pid: the kernel keeps pids below 4194304.
      await writeFile(lock, "4194304");
      let holders = 0;
      let most = 0;
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          const release = await acquireLock(lock, () => undefined);
          most = Math.max(most, ++holders);
          await new Promise((resolve) => setTimeout(resolve, 20));
          holders -= 1;
          await release();
        }),
      );
      expect(most).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("cancelling a download", () => {
  it("stops Maven and rejects when the signal aborts (the AppHost is stopping)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "artemis-abort-test-"));
    try {
      const bin = join(dir, "bin");
      const pidFile = join(dir, "mvn.pid");
      await mkdir(bin);
      // A Maven that never finishes; exec keeps its pid, so the pid file names the process to kill.
      await writeFile(join(bin, "mvn"), `#!/bin/sh\necho $$ > "${pidFile}"\nexec sleep 600\n`, {
        mode: 0o755,
      });
      const controller = new AbortController();
      const download = ensureArtemisDistribution({
        cacheDir: join(dir, "cache"),
        env: { PATH: `${bin}:/usr/bin:/bin` },
        signal: controller.signal,
      });
      download.catch(() => undefined);
      let pid = 0;
      while (!(pid > 0)) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        pid = Number(await readFile(pidFile, "utf8").catch(() => ""));
      }
      controller.abort();
      await expect(download).rejects.toThrow(/abort/i);
      expect(() => process.kill(pid, 0)).toThrow();
      expect(await readdir(join(dir, "cache", "artemis"))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
