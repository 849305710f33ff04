import { describe, expect, it } from "vitest";
import {
  amqpUri,
  maskUri,
  postgresUri,
  migrationsEnvironment,
  referenceEnvironment,
  serviceDiscoveryEnvironment,
} from "./environment.js";

describe("injected environment", () => {
  it("follows Aspire's conventions for a database reference", () => {
    const info = {
      host: "127.0.0.1",
      port: 5433,
      username: "postgres",
      password: "p@ss",
      databaseName: "senderdb",
    };
    const env = referenceEnvironment("senderdb", { ...info, uri: postgresUri(info) }, "sender");
    expect(env).toEqual({
      ConnectionStrings__senderdb: "postgresql://postgres:p%40ss@127.0.0.1:5433/senderdb",
      SENDERDB_URI: "postgresql://postgres:p%40ss@127.0.0.1:5433/senderdb",
      SENDERDB_HOST: "127.0.0.1",
      SENDERDB_PORT: "5433",
      SENDERDB_USERNAME: "postgres",
      SENDERDB_PASSWORD: "p@ss",
      SENDERDB_DATABASENAME: "senderdb",
    });
  });

  it("gives the owner's credentials, decoded, to a reference with the owner role", () => {
    const info = { host: "127.0.0.1", port: 5433, username: "db_app", password: "run", databaseName: "db" };
    const owner = "postgresql://db_owner:p%40ss%2F1@127.0.0.1:5433/db";
    const env = referenceEnvironment(
      "db",
      { ...info, uri: postgresUri(info), migrationsUri: owner },
      "web",
      "owner",
    );
    expect(env).toMatchObject({
      ConnectionStrings__db: owner,
      DB_URI: owner,
      DB_USERNAME: "db_owner",
      DB_PASSWORD: "p@ss/1",
      DB_DATABASENAME: "db",
    });
    expect(Object.keys(env).filter((name) => name.includes("MIGRATIONS"))).toEqual([]);
    expect(() => referenceEnvironment("broker", { ...info, uri: "amqp://x" }, "web", "owner")).toThrow(
      /not a database/,
    );
  });

  it("keeps a database owner's URL out of a reference: only a migrations step gets it", () => {
    const info = { host: "127.0.0.1", port: 5433, username: "app", password: "run", databaseName: "db" };
    const owner = "postgresql://db_owner:0wner-secret@127.0.0.1:5433/db";
    const target = { ...info, uri: postgresUri(info), migrationsUri: owner };
    const env = referenceEnvironment("senderdb", target, "sender");
    expect(Object.keys(env).filter((name) => name.includes("MIGRATIONS"))).toEqual([]);
    expect(Object.values(env).join(" ")).not.toContain("0wner-secret");
    expect(migrationsEnvironment("senderdb", target)).toEqual({ SENDERDB_MIGRATIONS_URI: owner });
    expect(migrationsEnvironment("broker", { ...info, uri: "amqp://x" })).toEqual({});
  });

  it("upper-cases and underscores dashed names, builds broker URIs", () => {
    const info = { host: "127.0.0.1", port: 5672, username: "artemis", password: "x" };
    const env = referenceEnvironment("my-broker", { ...info, uri: amqpUri(info) }, "sender");
    expect(env.MY_BROKER_URI).toBe("amqp://artemis:x@127.0.0.1:5672");
    expect(env["ConnectionStrings__my-broker"]).toBe("amqp://artemis:x@127.0.0.1:5672");
  });

  it("gives each client of a broker its own user, never the AppHost's", () => {
    const info = { host: "127.0.0.1", port: 5672, username: "artemis", password: "admin" };
    const target = {
      ...info,
      uri: amqpUri(info),
      clients: {
        sender: { username: "sender", password: "s/1" },
        receiver: { username: "receiver", password: "r" },
      },
    };
    const sender = referenceEnvironment("broker", target, "sender");
    expect(sender).toEqual({
      ConnectionStrings__broker: "amqp://sender:s%2F1@127.0.0.1:5672",
      BROKER_URI: "amqp://sender:s%2F1@127.0.0.1:5672",
      BROKER_HOST: "127.0.0.1",
      BROKER_PORT: "5672",
      BROKER_USERNAME: "sender",
      BROKER_PASSWORD: "s/1",
    });
    expect(referenceEnvironment("broker", target, "receiver").BROKER_USERNAME).toBe("receiver");
    expect(JSON.stringify(sender)).not.toContain("admin");
    expect(() => referenceEnvironment("broker", target, "stranger")).toThrow(/"stranger" has no user/);
  });

  it("gives service discovery variables and masks passwords for display", () => {
    expect(serviceDiscoveryEnvironment("sender", { http: "http://127.0.0.1:1" })).toEqual({
      services__sender__http__0: "http://127.0.0.1:1",
    });
    expect(maskUri("postgresql://u:secret@h:1/db")).toBe("postgresql://u:***@h:1/db");
  });
});
