import { postgresDatabaseKind, postgresServerKind } from "../kinds/postgres.js";
import { imageReference } from "./image.js";
import { Resource, assertResourceName, type ReferenceTarget } from "./resource.js";

/** A PostgreSQL server; each service gets its own, as in the seed. */
export class PostgresServerResource extends Resource implements ReferenceTarget {
  readonly databases: PostgresDatabaseResource[] = [];
  /** PostgreSQL settings passed as `-c key=value` at start-up. */
  readonly settings = new Map<string, string>();

  /** Set by withImage. */
  image: string | undefined;

  constructor(
    name: string,
    /** Lets the application model know about each database, which is a resource of its own. */
    private readonly onDatabaseAdded: (database: PostgresDatabaseResource) => void = () => {},
  ) {
    super(name, postgresServerKind);
  }

  get connectionName(): string {
    return this.name;
  }

  /** Adds a database created on this server when it first starts. */
  addDatabase(name: string, databaseName: string = name): PostgresDatabaseResource {
    assertResourceName(name);
    const database = new PostgresDatabaseResource(name, databaseName, this);
    this.databases.push(database);
    this.onDatabaseAdded(database);
    return database;
  }

  /** Container mode: the image to run instead of the official one (APPHOST_IMAGE_* variables still win). */
  withImage(image: string, tag?: string): this {
    this.image = imageReference(image, tag);
    return this;
  }

  /** Sets a server parameter, e.g. `withSetting("max_connections", "200")`. */
  withSetting(key: string, value: string): this {
    if (!/^[a-z_.]+$/.test(key)) throw new Error(`Invalid PostgreSQL setting name "${key}"`);
    this.settings.set(key, value);
    return this;
  }
}

export class PostgresDatabaseResource extends Resource implements ReferenceTarget {
  constructor(
    name: string,
    readonly databaseName: string,
    readonly server: PostgresServerResource,
  ) {
    super(name, postgresDatabaseKind);
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(databaseName)) {
      throw new Error(`Invalid database name "${databaseName}": use lower-case letters, digits and '_'.`);
    }
  }

  get connectionName(): string {
    return this.name;
  }

  override dependencies(): Resource[] {
    return [this.server, ...this.waitsFor];
  }
}
