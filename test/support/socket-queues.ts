import { readFileSync, readdirSync, readlinkSync } from "node:fs";

interface TcpSocket {
  localPort: number;
  remotePort: number;
  rxQueue: number;
  inode: string;
}

/** The host's TCP sockets (IPv4 and IPv6) as the kernel lists them in /proc/net/tcp{,6}. */
function tcpSockets(): TcpSocket[] {
  const sockets: TcpSocket[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (address: string): number => parseInt(address.slice(address.lastIndexOf(":") + 1), 16);
      const rx = f[4]?.split(":")[1] ?? "0";
      sockets.push({
        localPort: port(f[1] ?? ""),
        remotePort: port(f[2] ?? ""),
        rxQueue: parseInt(rx, 16),
        inode: f[9] ?? "",
      });
    }
  }
  return sockets;
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/**
 * Bytes that process `pid` wrote to its connections with a server on `serverPort` and that wait,
 * unread, in the server's receive buffers. With the server stopped (SIGSTOP) the kernel still
 * accepts what the client writes, so this is how much the client has sent since the stop.
 */
export function bytesUnreadByServer(pid: number, serverPort: number): number {
  const sockets = tcpSockets();
  const ours = socketInodes(pid);
  const clientPorts = new Set(
    sockets.filter((s) => ours.has(s.inode) && s.remotePort === serverPort).map((s) => s.localPort),
  );
  return sockets
    .filter((s) => s.localPort === serverPort && clientPorts.has(s.remotePort))
    .reduce((sum, s) => sum + s.rxQueue, 0);
}
