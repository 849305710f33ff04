import type { PostgresServerResource } from "../../model/postgres.js";
import { postgresUri, type ConnectionInfo } from "../../runtime/environment.js";
import { choosePort } from "../../runtime/ports.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";
import { probePostgres } from "../postgres-database.js";
import { ensureVolume, labelsFor, volumeName, type Owner } from "./docker-objects.js";
import { chooseImage, OFFICIAL_IMAGES } from "./images.js";
import { LoopbackPostgreSqlContainer } from "./loopback.js";
import { containerResource, logConsumer } from "./started-container.js";

const HOST = "127.0.0.1";
const USER = "postgres";
/** The official image's contract: port, and PGDATA, which is its declared volume. */
const CONTAINER_PORT = 5432;
const PGDATA = "/var/lib/postgresql/data";

/**
 * PostgreSQL as a container of the official image (or one keeping its contract): superuser and
 * password through POSTGRES_USER/POSTGRES_PASSWORD on the first start, data in a named volume at
 * PGDATA, server settings as `postgres -c` arguments. The databases are created by the shared
 * database provider, as in process mode.
 */
export class PostgresContainerProvider implements ResourceProvider<PostgresServerResource> {
  constructor(private readonly owner: Owner) {}

  async start(resource: PostgresServerResource, context: StartContext): Promise<StartedResource> {
    const password = context.settings.secret(resource.name, "password");
    const port = await choosePort(context.settings.port(resource.name, "tcp"));
    context.settings.setPort(resource.name, "tcp", port);
    await context.settings.save();
    const { image, source } = chooseImage({
      resource: resource.name,
      kind: "postgres",
      model: resource.image,
      fallback: OFFICIAL_IMAGES.postgres,
    });
    const volume = volumeName(this.owner, resource.name);
    await ensureVolume(this.owner, resource.name, volume);
    context.log(`image ${image} (${source}), volume ${volume}, port ${HOST}:${port}`);

    const settings = new Map<string, string>([["max_connections", "200"], ...resource.settings]);
    const container = await new LoopbackPostgreSqlContainer(image)
      .withUsername(USER)
      .withPassword(password)
      // The server's own database: the model's databases are created by the database provider.
      .withDatabase("postgres")
      // Testcontainers' default check is `sh -c "PGPASSWORD=<password> pg_isready …"`, run by the
      // engine every 250 ms for the container's life: the superuser password on a command line
      // every local user can read. pg_isready never authenticates, so it needs no password.
      .withHealthCheck({
        test: ["CMD", "pg_isready", "--host", "localhost", "--username", USER, "--dbname", "postgres"],
        interval: 250,
        timeout: 1000,
        retries: 1000,
      })
      .withCommand(["postgres", ...[...settings].flatMap(([k, v]) => ["-c", `${k}=${v}`])])
      .withExposedPorts({ container: CONTAINER_PORT, host: port })
      .withBindMounts([{ source: volume, target: PGDATA }])
      .withLabels(labelsFor(this.owner, resource.name))
      .withLogConsumer(logConsumer(context.logs, resource.name))
      .withStartupTimeout(120_000)
      .start();

    const info: Omit<ConnectionInfo, "uri"> = { host: HOST, port, username: USER, password };
    return containerResource({
      container,
      image,
      endpoints: { tcp: `tcp://${HOST}:${port}` },
      connection: { ...info, uri: postgresUri(info) },
      checkHealth: () => probePostgres({ ...info, databaseName: "postgres" }),
      stopTimeoutSeconds: 15,
    });
  }
}
