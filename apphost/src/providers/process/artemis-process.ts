import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { ensureArtemisDistribution } from "../../artemis/distribution.js";
import { verifyTopologyOrStop } from "../../artemis/verify-topology.js";
import { ARTEMIS_READY_LOG_CODE, checkJava, prepareArtemisInstance } from "../../artemis/instance.js";
import { ARTEMIS_ADMIN_USER, brokerClientLogins, clientCredentials } from "../../artemis/client-logins.js";
import type { ArtemisResource } from "../../model/artemis.js";
import { amqpUri, type ConnectionInfo } from "../../runtime/environment.js";
import { childEnvironment } from "../../runtime/child-environment.js";
import { choosePort, isPortOpen } from "../../runtime/ports.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";
import { startJavaBroker } from "./java-broker-process.js";

const HOST = "127.0.0.1";

/** ActiveMQ Artemis from its binary distribution (downloaded once into a cache), one instance per resource. */
export class ArtemisProcessProvider implements ResourceProvider<ArtemisResource> {
  async start(resource: ArtemisResource, context: StartContext): Promise<StartedResource> {
    const java = await checkJava();
    if (!java.ok) throw new Error(java.message);
    const distribution = await ensureArtemisDistribution({
      log: context.log,
      progress: context.progress,
      signal: context.signal,
    });
    const user = ARTEMIS_ADMIN_USER;
    const password = context.settings.secret(resource.name, "password");
    const clients = brokerClientLogins(resource, context.settings);
    const port = await choosePort(context.settings.port(resource.name, "amqp"));
    context.settings.setPort(resource.name, "amqp", port);
    await context.settings.save();

    await closeToOthers(context.dataDir);
    const launch = await prepareArtemisInstance({
      distribution,
      instanceDir: path.join(context.dataDir, "instance"),
      user,
      password,
      host: HOST,
      amqpPort: port,
      topology: resource.topology(),
      clients,
      log: context.log,
    });

    const child = await startJavaBroker({
      name: resource.name,
      product: "Artemis",
      spec: {
        command: launch.command,
        args: launch.args,
        cwd: launch.cwd,
        env: childEnvironment(launch.env),
      },
      logs: context.logs,
      readyLine: ARTEMIS_READY_LOG_CODE,
      host: HOST,
      port,
      signal: context.signal,
    });
    await verifyTopologyOrStop({ host: HOST, port, username: user, password }, resource.topology(), () =>
      child.kill(),
    );

    const info: Omit<ConnectionInfo, "uri"> = {
      host: HOST,
      port,
      username: user,
      password,
      clients: clientCredentials(clients),
    };
    return {
      get pid() {
        return child.pid;
      },
      endpoints: { amqp: `amqp://${HOST}:${port}` },
      connection: { ...info, uri: amqpUri(info) },
      exited: child.exited,
      checkHealth: async () =>
        child.running && (await isPortOpen(port, HOST))
          ? { healthy: true }
          : { healthy: false, detail: child.running ? "AMQP port not accepting" : "not running" },
      stop: async () => void (await child.stop("SIGTERM", 20_000)),
      kill: async () => void (await child.kill()),
    };
  }
}

/**
 * Makes the broker's data directory 0700. `artemis create` makes 0755 directories and 0644 journal
 * files, and as root the state directory and data/ are searchable by every user (the postgres user
 * must reach its cluster): without this, any local user could read the broker's messages. The
 * directory is changed through a handle opened without following a link.
 */
async function closeToOthers(dataDir: string): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const handle = await fs.open(dataDir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    if (((await handle.stat()).mode & 0o7777) !== 0o700) await handle.chmod(0o700);
  } finally {
    await handle.close();
  }
}
