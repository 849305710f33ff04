import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { waitUntil } from "../../runtime/wait.js";

/**
 * A SIGKILLed postmaster leaves postmaster.pid behind; PostgreSQL refuses to start while that pid
 * names a live process of its own user. The file sits in a directory the server's OS user
 * controls, so the pid in it proves nothing: it is killed only when /proc shows the very server
 * an earlier run of this cluster left (postmasterOfCluster). Any other pid leaves its process
 * alone and the file, stale for this cluster, is removed so that the server can start.
 */
export async function removeStalePid(
  dataDir: string,
  serverUid: number,
  log: (message: string) => void,
): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  const content = await readSmallFile(pidFile);
  if (content === undefined) return;
  const pid = Number(content.split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (await isAlive(pid)) {
    const mismatch = await postmasterOfCluster(pid, dataDir, serverUid);
    if (mismatch) {
      log(
        `postmaster.pid names pid ${pid}, which is not a PostgreSQL of this cluster (${mismatch}): leaving that process alone`,
      );
    } else {
      log(`stopping a PostgreSQL left over from an earlier run (pid ${pid})`);
      process.kill(pid, "SIGKILL");
      await waitUntil(async () => !(await isAlive(pid)), {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: "old postmaster to exit",
      });
    }
  }
  // Dead, not this cluster's, or a zombie nobody has reaped yet (its parent, a killed AppHost, is
  // gone and init may take its time): PostgreSQL would take that pid for a running postmaster and
  // refuse to start. Unlinking removes the name only, whatever it is.
  await fs.rm(pidFile, { force: true });
}

/**
 * Why `pid` is not the postmaster of `dataDir` run as `uid`, or undefined when it is: its real and
 * effective uid, its executable named `postgres`, its working directory the cluster (a postmaster
 * changes into its data directory).
 */
export async function postmasterOfCluster(
  pid: number,
  dataDir: string,
  uid: number,
): Promise<string | undefined> {
  const proc = `/proc/${pid}`;
  const status = await fs.readFile(`${proc}/status`, "utf8").catch(() => "");
  const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
  if (!uids) return "its /proc entry is unreadable";
  if (Number(uids[1]) !== uid || Number(uids[2]) !== uid) return `it runs as uid ${uids[2]}, not ${uid}`;
  const exe = await fs.readlink(`${proc}/exe`).catch(() => "");
  if (path.basename(exe.replace(/ \(deleted\)$/, "")) !== "postgres")
    return `its executable is ${exe || "unknown"}`;
  const [cwd, cluster] = await Promise.all([
    fs.readlink(`${proc}/cwd`).catch(() => ""),
    fs.realpath(dataDir).catch(() => path.resolve(dataDir)),
  ]);
  if (cwd !== cluster) return `it works in ${cwd || "an unknown directory"}, not in ${cluster}`;
  return undefined;
}

/**
 * A regular file's first 4 KiB, opened without following a link and without blocking on a FIFO
 * (its owner could have put either there); undefined when it is missing or not a regular file.
 */
async function readSmallFile(file: string): Promise<string | undefined> {
  const handle = await fs
    .open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    .catch(() => undefined);
  if (!handle) return undefined;
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    const status = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}
