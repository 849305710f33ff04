import { spawn } from "node:child_process";
import { once } from "node:events";
import readline from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createApp,
  defineResourceKind,
  Resource,
  type DistributedApplication,
  type ExitInfo,
  type ReferenceTarget,
  type ResourceProvider,
  type StartContext,
  type StartedResource,
} from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";

// A resource kind the AppHost does not know, declared here as a user would in their own file: a TCP
// echo server run as a local process. Nothing in apphost/src names it.

/** The server: prints its port once it listens, echoes every byte back. */
const ECHO_SERVER = `
const server = require("node:net").createServer((socket) => socket.pipe(socket));
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
process.on("SIGTERM", () => process.exit(0));
`;

class EchoProcessProvider implements ResourceProvider<EchoResource> {
  async start(resource: EchoResource, context: StartContext): Promise<StartedResource> {
    const child = spawn(process.execPath, ["-e", ECHO_SERVER], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<ExitInfo>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    context.logs.pipe(resource.name, "stdout", child.stdout);
    context.logs.pipe(resource.name, "stderr", child.stderr);
    const port = await new Promise<number>((resolve, reject) => {
      const lines = readline.createInterface({ input: child.stdout });
      lines.on("line", (line) => {
        const match = /^listening (\d+)$/.exec(line);
        if (match) resolve(Number(match[1]));
      });
      void exited.then((info) =>
        reject(new Error(`echo server exited before listening (code ${info.code})`)),
      );
    });
    const host = "127.0.0.1";
    return {
      pid: child.pid,
      endpoints: { tcp: `tcp://${host}:${port}` },
      connection: { uri: `tcp://${host}:${port}`, host, port, username: "", password: "" },
      exited,
      checkHealth: async () => ({ healthy: (await echo(host, port, "health")) === "health" }),
      stop: async () => {
        child.kill("SIGTERM");
        await exited;
      },
      kill: async () => {
        child.kill("SIGKILL");
        await exited;
      },
    };
  }
}

/** Every start the kind's beforeStart hook saw, in order. */
const beforeStarts: string[] = [];

const echoKind = defineResourceKind<EchoResource>({
  name: "echo",
  processProvider: () => new EchoProcessProvider(),
  beforeStart: (resource) => {
    beforeStarts.push(resource.name);
    return Promise.resolve();
  },
});

class EchoResource extends Resource implements ReferenceTarget {
  constructor(name: string) {
    super(name, echoKind);
  }

  get connectionName(): string {
    return this.name;
  }
}

/** Sends `text` over one connection and resolves with what came back. */
async function echo(host: string, port: number, text: string): Promise<string> {
  const { connect } = await import("node:net");
  const socket = connect(port, host);
  try {
    await once(socket, "connect");
    socket.end(text);
    let reply = "";
    for await (const chunk of socket) reply += String(chunk);
    return reply;
  } finally {
    socket.destroy();
  }
}

/**
 * The client: an executable healthy only while it can talk to the echo server at the address it
 * was given (`ECHO_HOST`/`ECHO_PORT`); `/` shows the variables it received.
 */
const CLIENT = `
const http = require("node:http");
const net = require("node:net");
const roundTrip = (text) => new Promise((resolve, reject) => {
  const socket = net.connect(Number(process.env.ECHO_PORT), process.env.ECHO_HOST);
  let reply = "";
  socket.on("connect", () => socket.end(text));
  socket.on("data", (chunk) => (reply += chunk));
  socket.on("end", () => resolve(reply));
  socket.on("error", reject);
});
http.createServer(async (req, res) => {
  if (req.url === "/health") {
    const ok = await roundTrip("ping").then((r) => r === "ping", () => false);
    res.writeHead(ok ? 200 : 503).end();
  } else {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ connectionString: process.env.ConnectionStrings__echo, reply: await roundTrip("hello") }));
  }
}).listen(Number(process.env.PORT), "127.0.0.1");
`;

let app: DistributedApplication;

beforeAll(async () => {
  const model = createApp({ name: "custom-kind" });
  const server = model.addResource(new EchoResource("echo"));
  model
    .addExecutable("client", process.execPath, ["-e", CLIENT])
    .withReference(server)
    .waitFor(server)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  app = await startTestApp({ model, mode: "process" });
});

afterAll(async () => {
  await stopTestApp(app);
});

describe("a resource kind declared outside the AppHost", () => {
  it("starts, becomes healthy and is shown under its own kind", () => {
    const started = app.resource("echo");
    expect(started.kind).toBe("echo");
    expect(started.state).toBe("Running");
    expect(started.health).toBe("Healthy");
    expect(started.connectionString).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(beforeStarts).toEqual(["echo"]);
  });

  it("is injected into an executable that references it, which reaches it there", async () => {
    expect(app.resource("client").health).toBe("Healthy");
    const seen = (await (await fetch(app.getEndpoint("client"))).json()) as {
      connectionString: string;
      reply: string;
    };
    expect(seen.connectionString).toBe(app.getConnectionString("echo"));
    expect(seen.reply).toBe("hello");
    expect(app.environmentOf("client")).toMatchObject({
      ECHO_HOST: "127.0.0.1",
      ECHO_PORT: new URL(app.getConnectionString("echo")).port,
    });
  });

  it("stops with the application, its process gone", async () => {
    const { pid } = app.resource("echo");
    if (pid === null) throw new Error("the running echo server has no pid");
    expect(() => process.kill(pid, 0)).not.toThrow();
    await app.stop();
    expect(app.resource("echo").state).toBe("Exited");
    expect(app.resource("client").state).toBe("Exited");
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });
});
