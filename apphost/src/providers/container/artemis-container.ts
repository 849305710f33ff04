import { randomBytes } from "node:crypto";
import { Wait, type StartedTestContainer } from "testcontainers";
import { artemisEtcFiles, BROKER_PROPERTIES_FILE } from "../../artemis/etc-files.js";
import { ARTEMIS_ADMIN_USER, brokerClientLogins, clientCredentials } from "../../artemis/client-logins.js";
import {
  ARTEMIS_READY_LOG_CODE,
  loginFilesUpToDate,
  renderRolesFile,
  renderUsersFile,
} from "../../artemis/instance.js";
import { brokerRoles, type BrokerLogin } from "../../artemis/security.js";
import type { ArtemisResource } from "../../model/artemis.js";
import { amqpUri, type ConnectionInfo } from "../../runtime/environment.js";
import { choosePort, isPortOpen } from "../../runtime/ports.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";
import { ensureVolume, labelsFor, volumeName, type Owner } from "./docker-objects.js";
import { chooseImage, OFFICIAL_IMAGES } from "./images.js";
import { LoopbackGenericContainer } from "./loopback.js";
import { verifyTopologyOrStop } from "../../artemis/verify-topology.js";
import { containerResource, logConsumer } from "./started-container.js";

const HOST = "127.0.0.1";
const USER = ARTEMIS_ADMIN_USER;
/** The official image's contract: the instance directory (its declared volume) and the main acceptor port. */
const INSTANCE_DIR = "/var/lib/artemis-instance";
const ETC_OVERRIDE = `${INSTANCE_DIR}/etc-override`;
const ETC = `${INSTANCE_DIR}/etc`;
const CONTAINER_PORT = 61616;
const USERS_FILE = "artemis-users.properties";
const ROLES_FILE = "artemis-roles.properties";

/**
 * `artemis create` options (EXTRA_ARGS) for the image's first start, matching the process
 * provider's instance: NIO journal, no disk benchmark, no web console, one acceptor (61616: CORE
 * and AMQP, duplicate detection on), a 512 MB heap.
 */
const CREATE_ARGS = [
  "--nio",
  "--no-autotune",
  "--no-web",
  "--no-amqp-acceptor",
  "--no-stomp-acceptor",
  "--no-hornetq-acceptor",
  "--no-mqtt-acceptor",
  "--java-memory",
  "512M",
].join(" ");

/**
 * The image's broker.xml declares the stock DLQ and ExpiryQueue addresses; the AppHost's
 * broker.properties declares every address itself (a stock catch-all DLQ queue would take half of
 * the per-address dead letters). Broker properties remove named entries with the value "-".
 */
export const CONTAINER_INSTANCE_PROPERTIES = [
  "# Applied before broker.properties: remove the image's stock addresses.",
  'addressConfigurations."DLQ"=-',
  'addressConfigurations."ExpiryQueue"=-',
  "",
].join("\n");
const CONTAINER_PROPERTIES_FILE = "container-instance.properties";

/**
 * ActiveMQ Artemis as a container of the official image (or one keeping its contract). The etc
 * files are the ones the process provider writes (artemisEtcFiles), handed over through the
 * image's etc-override directory, which it copies into etc/ when it creates the instance. The
 * instance lives in a named volume, so on later starts etc/ is not rewritten: the broker is told to
 * read its properties from etc-override (`run --properties`), which is refreshed on every start.
 * Users and roles live in etc/ itself (the login module reads them from there, and reloads them
 * when they change): they are written into the running container on every start, before anyone
 * but the AppHost logs in (syncLoginFiles).
 */
export class ArtemisContainerProvider implements ResourceProvider<ArtemisResource> {
  constructor(private readonly owner: Owner) {}

  async start(resource: ArtemisResource, context: StartContext): Promise<StartedResource> {
    const password = context.settings.secret(resource.name, "password");
    const port = await choosePort(context.settings.port(resource.name, "amqp"));
    context.settings.setPort(resource.name, "amqp", port);
    await context.settings.save();
    const { image, source } = chooseImage({
      resource: resource.name,
      kind: "artemis",
      model: resource.image,
      fallback: OFFICIAL_IMAGES.artemis,
    });
    const volume = volumeName(this.owner, resource.name);
    await ensureVolume(this.owner, resource.name, volume);
    context.log(`image ${image} (${source}), volume ${volume}, port ${HOST}:${port}`);

    const clients = brokerClientLogins(resource, context.settings);
    await context.settings.save();
    const logins = [
      { username: USER, password },
      ...clients.map((c) => ({ username: c.name, password: c.password })),
    ];
    const roles = brokerRoles(USER, clients);
    const etcFiles = artemisEtcFiles(resource.topology(), { adminUser: USER, clients });
    etcFiles.set(CONTAINER_PROPERTIES_FILE, CONTAINER_INSTANCE_PROPERTIES);
    // The real logins, hashed: the image copies etc-override/ over etc/ right after `artemis
    // create` and before the broker runs, so the throwaway below is never a valid password.
    etcFiles.set(USERS_FILE, renderUsersFile(logins));
    etcFiles.set(ROLES_FILE, renderRolesFile(roles));
    const propertiesOrder = [CONTAINER_PROPERTIES_FILE, BROKER_PROPERTIES_FILE].map(
      (f) => `${ETC_OVERRIDE}/${f}`,
    );

    const container = await new LoopbackGenericContainer(image)
      .withEnvironment({
        ARTEMIS_USER: USER,
        // The official image passes ARTEMIS_PASSWORD to `artemis create --password` on a command
        // line every local user can read (ps): it gets a throwaway, never the real password.
        ARTEMIS_PASSWORD: randomBytes(24).toString("base64url"),
        ANONYMOUS_LOGIN: "false",
        EXTRA_ARGS: CREATE_ARGS,
      })
      .withCopyContentToContainer(
        [...etcFiles].map(([name, content]) => ({ content, target: `${ETC_OVERRIDE}/${name}`, mode: 0o644 })),
      )
      .withCommand(["run", "--properties", propertiesOrder.join(",")])
      .withExposedPorts({ container: CONTAINER_PORT, host: port })
      .withBindMounts([{ source: volume, target: INSTANCE_DIR }])
      .withLabels(labelsFor(this.owner, resource.name))
      .withLogConsumer(logConsumer(context.logs, resource.name))
      .withWaitStrategy(Wait.forLogMessage(ARTEMIS_READY_LOG_CODE))
      .withStartupTimeout(120_000)
      .start();
    try {
      await syncLoginFiles(container, logins, roles, context.log);
    } catch (error) {
      await container.stop().catch(() => undefined);
      throw error;
    }
    // Artemis ignores broker.properties keys it cannot apply: check what it really has (both modes).
    await verifyTopologyOrStop({ host: HOST, port, username: USER, password }, resource.topology(), () =>
      container.stop(),
    );

    const info: Omit<ConnectionInfo, "uri"> = {
      host: HOST,
      port,
      username: USER,
      password,
      clients: clientCredentials(clients),
    };
    return containerResource({
      container,
      image,
      endpoints: { amqp: `amqp://${HOST}:${port}` },
      connection: { ...info, uri: amqpUri(info) },
      checkHealth: async () =>
        (await isPortOpen(port, HOST))
          ? { healthy: true }
          : { healthy: false, detail: "AMQP port not accepting" },
      stopTimeoutSeconds: 20,
    });
  }
}

/**
 * Writes etc/artemis-users.properties and artemis-roles.properties inside the running container
 * (as the image's user, 0600, replaced by a rename) unless they already hold exactly these users.
 * The image copies etc-override/ only when it creates the instance, so on a volume that already
 * exists this is the only way a new service user or a changed password reaches the broker. The
 * content comes from the copies in etc-override/ (written before the start): only file names
 * are on the command line, never the password hashes.
 */
async function syncLoginFiles(
  container: StartedTestContainer,
  logins: BrokerLogin[],
  roles: Map<string, string[]>,
  log: (message: string) => void,
): Promise<void> {
  const read = async (file: string) => {
    const result = await container.exec(["cat", file]);
    return result.exitCode === 0 ? result.stdout : "";
  };
  if (
    loginFilesUpToDate(await read(`${ETC}/${USERS_FILE}`), await read(`${ETC}/${ROLES_FILE}`), logins, roles)
  )
    return;
  log(`updating the broker's users: ${logins.map((l) => l.username).join(", ")}`);
  for (const name of [USERS_FILE, ROLES_FILE]) {
    const result = await container.exec([
      "sh",
      "-c",
      'umask 077 && cat "$1" > "$2.tmp" && mv "$2.tmp" "$2"',
      "sh",
      `${ETC_OVERRIDE}/${name}`,
      `${ETC}/${name}`,
    ]);
    if (result.exitCode !== 0)
      throw new Error(`Could not write ${ETC}/${name} in the broker container: ${result.output.trim()}`);
  }
}
