import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildApp } from "../../../../apphost.js";
import { NodeServiceResource } from "../../model/node-service.js";
import { deployPlan as plan, type DeployPlanOptions } from "../deploy-plan.js";
import { COMPOSE_FILE, ENV_FILE, renderCompose } from "./compose-publisher.js";

const TAG = "src-0123456789ab";
const deployPlan = (model: Parameters<typeof plan>[0], options: Partial<DeployPlanOptions> = {}) =>
  plan(model, { serviceTag: TAG, ...options });

interface ComposeService {
  image: string;
  user?: string;
  cap_drop?: string[];
  security_opt?: string[];
  read_only?: boolean;
  tmpfs?: string[];
  mem_limit?: string;
  pids_limit?: number;
  restart?: string;
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas: number };
  command?: string[];
}

const SECRETS = {
  SECRET_SENDER_PG_PASSWORD: "senderSecretValue1",
  SECRET_RECEIVER_PG_PASSWORD: "receiverSecretValue2",
  SECRET_BROKER_PASSWORD: "brokerSecretValue3",
  SECRET_BROKER_SENDER_PASSWORD: "brokerSenderValue6",
  SECRET_BROKER_RECEIVER_PASSWORD: "brokerReceiverValue7",
  SECRET_SENDER_ADMIN_TOKEN: "senderAdminToken8",
  SECRET_RECEIVER_ADMIN_TOKEN: "receiverAdminToken9",
  SECRET_SENDERDB_OWNER_PASSWORD: "senderdbOwnerValue10",
  SECRET_SENDERDB_APP_PASSWORD: "senderdbAppValue11",
  SECRET_RECEIVERDB_OWNER_PASSWORD: "receiverdbOwnerValue12",
  SECRET_RECEIVERDB_APP_PASSWORD: "receiverdbAppValue13",
};

function render(model = buildApp()) {
  const files = renderCompose(deployPlan(model), SECRETS);
  const yaml = files.get(COMPOSE_FILE) ?? "";
  const compose = parse(yaml) as {
    services: Record<string, ComposeService>;
    volumes: Record<string, unknown>;
  };
  return { files, yaml, compose };
}

describe("Compose publisher", () => {
  it("writes one service per resource (databases live in their server), with a healthcheck each", () => {
    const { compose } = render();
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        "broker",
        "receiver",
        "receiver-migrate",
        "receiver-pg",
        "sender",
        "sender-migrate",
        "sender-pg",
      ].sort(),
    );
    for (const [name, service] of Object.entries(compose.services)) {
      // The one-shot migrations exit: a healthcheck would never report.
      if (name.endsWith("-migrate")) expect(service.healthcheck, name).toBeUndefined();
      else expect(service.healthcheck?.test.length, name).toBeGreaterThan(0);
    }
    expect(compose.services["sender-pg"]?.healthcheck?.test).toContain("pg_isready");
    expect(compose.services.broker?.healthcheck?.test.join(" ")).toContain("artemis check node --up");
    expect(compose.services.sender?.healthcheck?.test.join(" ")).toContain("/health");
  });

  it("checks the broker's health without its password on any command line", () => {
    const { compose } = render();
    const [kind, script = ""] = compose.services.broker?.healthcheck?.test ?? [];
    expect(kind).toBe("CMD-SHELL");
    // The only use of the password is an argument of the shell's builtin printf, whose output
    // reaches the Artemis CLI through a pipe (picocli's @file expansion of /dev/stdin).
    expect(script.match(/ARTEMIS_PASSWORD/g)).toHaveLength(1);
    expect(script).toMatch(
      /^printf -- '--password\\n%s\\n' "\$\$ARTEMIS_PASSWORD" \| \S+\/artemis check node /,
    );
    expect(script).toMatch(/ @\/dev\/stdin > \/dev\/null$/);
    expect(script).not.toMatch(/--password "/);
  });

  it("hardens every container: no capabilities, no-new-privileges, read-only root, memory and pids limits", () => {
    const { compose } = render();
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.cap_drop, name).toEqual(["ALL"]);
      expect(service.security_opt, name).toEqual(["no-new-privileges:true"]);
      expect(service.read_only, name).toBe(true);
      expect(service.tmpfs, name).toContain("/tmp");
      expect(service.mem_limit, name).toMatch(/^\d+[mg]$/);
      expect(service.pids_limit, name).toBeGreaterThan(0);
    }
    // PostgreSQL starts as its own user: its entry point then needs no chown and no user switch.
    expect(compose.services["sender-pg"]?.user).toBe("999:999");
    expect(compose.services["sender-pg"]?.tmpfs).toContain("/var/run/postgresql:uid=999,gid=999,mode=3775");
    expect(compose.services.broker?.mem_limit).toBe("2g");
    expect(compose.services.broker?.environment?.JAVA_ARGS_APPEND).toMatch(/ -Xmx1g$/);
  });

  it("runs migrations in a one-shot service, the only one holding the database owner's credentials", () => {
    const { compose, yaml } = render();
    const migrate = compose.services["sender-migrate"];
    expect(migrate?.restart).toBeUndefined();
    expect(migrate?.entrypoint).toEqual(["node"]);
    expect(migrate?.command).toEqual(["src/migrate-main.js"]);
    expect(migrate?.depends_on).toEqual({ "sender-pg": { condition: "service_healthy" } });
    const owner =
      "postgresql://senderdb_owner:${SECRET_SENDERDB_OWNER_PASSWORD:?SECRET_SENDERDB_OWNER_PASSWORD is not set: see .env}@sender-pg:5432/senderdb";
    expect(migrate?.environment).toEqual({
      ConnectionStrings__senderdb: owner,
      SENDERDB_MIGRATIONS_URI: owner,
      NODE_ENV: "production",
    });
    expect(compose.services.sender?.depends_on?.["sender-migrate"]).toEqual({
      condition: "service_completed_successfully",
    });
    // The long-running services: the runtime role only.
    for (const name of ["sender", "receiver"]) {
      const environment = compose.services[name]?.environment ?? {};
      expect(
        Object.keys(environment).filter((k) => k.endsWith("_MIGRATIONS_URI")),
        name,
      ).toEqual([]);
      expect(JSON.stringify(environment), name).not.toMatch(/_owner|OWNER_PASSWORD/);
    }
    // Besides the migrations, only the PostgreSQL servers (their init script creates the roles).
    const holders = Object.entries(compose.services)
      .filter(([, service]) => JSON.stringify(service.environment ?? {}).includes("OWNER_PASSWORD"))
      .map(([name]) => name);
    expect(holders.sort()).toEqual(["receiver-migrate", "receiver-pg", "sender-migrate", "sender-pg"]);
    expect(yaml).toContain("SECRET_SENDERDB_OWNER_PASSWORD");
  });

  it("takes the migrations step from the model: its entry point compiled, none for a service without one", () => {
    const model = buildApp();
    (model.resource("sender") as NodeServiceResource).withMigrations("db/up.mts");
    (model.resource("receiver") as NodeServiceResource).migrationsEntryPoint = undefined;
    const { compose } = render(model);
    expect(compose.services["sender-migrate"]?.command).toEqual(["db/up.mjs"]);
    expect(compose.services["receiver-migrate"]).toBeUndefined();
    expect(compose.services.receiver?.depends_on?.["receiver-migrate"]).toBeUndefined();
    // Without a step, nothing holds the receiver's owner credentials but its server's init script.
    const holders = Object.entries(compose.services)
      .filter(([, service]) =>
        JSON.stringify(service.environment ?? {}).includes("RECEIVERDB_OWNER_PASSWORD"),
      )
      .map(([name]) => name);
    expect(holders).toEqual(["receiver-pg"]);
  });

  it("names the services' images by the given tag, never :latest, and pins images by digest when known", () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const files = renderCompose(
      deployPlan(buildApp(), { digests: new Map([["postgres:15", digest]]) }),
      SECRETS,
    );
    const compose = parse(files.get(COMPOSE_FILE) ?? "") as { services: Record<string, ComposeService> };
    expect(compose.services.sender?.image).toBe(
      `\${APPHOST_IMAGE_SENDER:-outbox-apphost/sender-service:${TAG}}`,
    );
    expect(compose.services["sender-migrate"]?.image).toBe(compose.services.sender?.image);
    expect(compose.services["sender-pg"]?.image).toBe(`\${APPHOST_IMAGE_POSTGRES:-postgres:15@${digest}}`);
    // No digest known for the broker here: its tag, and .env says so.
    expect(compose.services.broker?.image).toBe("${APPHOST_IMAGE_ARTEMIS:-apache/artemis:2.56.0}");
    expect(files.get(ENV_FILE)).toContain("# APPHOST_IMAGE_ARTEMIS=apache/artemis:2.56.0   (no digest known");
    expect(files.get(COMPOSE_FILE)).not.toContain(":latest");
    expect(() => deployPlan(buildApp(), { digests: new Map([["postgres:15", "sha256:nope"]]) })).toThrow(
      /Invalid digest/,
    );
  });

  it("turns waitFor into depends_on service_healthy and keeps data on named volumes", () => {
    const { compose } = render();
    expect(compose.services.sender?.depends_on).toEqual({
      "sender-pg": { condition: "service_healthy" },
      broker: { condition: "service_healthy" },
      "sender-migrate": { condition: "service_completed_successfully" },
    });
    expect(compose.services.receiver?.depends_on).toEqual({
      "receiver-pg": { condition: "service_healthy" },
      broker: { condition: "service_healthy" },
      "receiver-migrate": { condition: "service_completed_successfully" },
    });
    expect(Object.keys(compose.volumes).sort()).toEqual([
      "broker-data",
      "receiver-pg-data",
      "sender-pg-data",
    ]);
    expect(compose.services["sender-pg"]?.volumes).toContain("sender-pg-data:/var/lib/postgresql/data");
  });

  it("publishes only the services' HTTP ports, on 127.0.0.1 unless .env says otherwise", () => {
    const { compose } = render();
    for (const name of ["sender-pg", "receiver-pg", "broker", "sender-migrate", "receiver-migrate"])
      expect(compose.services[name]?.ports).toBeUndefined();
    expect(compose.services.sender?.ports).toEqual([
      "${APPHOST_BIND_ADDRESS:-127.0.0.1}:${SENDER_HTTP_PORT:?SENDER_HTTP_PORT is not set: see .env}:8080",
    ]);
  });

  it("carries replica counts and the broker configuration", () => {
    const model = buildApp();
    (model.resource("sender") as NodeServiceResource).withReplicas(3);
    const { compose, files } = render(model);
    expect(compose.services.sender?.deploy).toEqual({ replicas: 3 });
    expect(compose.services.sender?.ports).toEqual(["${APPHOST_BIND_ADDRESS:-127.0.0.1}::8080"]);
    expect(compose.services.receiver?.deploy).toEqual({ replicas: 1 });
    const properties = files.get("artemis/broker/broker.properties") ?? "";
    expect(properties).toContain("IDCacheSize=100000");
    expect(properties).toContain('addressSettings."entity-items.audit".maxDeliveryAttempts=5');
    expect(compose.services.broker?.volumes).toContain(
      "./artemis/broker/broker.properties:/etc/outbox-broker/broker.properties:ro",
    );
    expect(compose.services.broker?.command).toEqual([
      "run",
      "--properties",
      "/etc/outbox-broker/broker.properties",
    ]);
  });

  it("writes secrets to .env only: the YAML refers to them by name", () => {
    const { files, yaml, compose } = render();
    for (const value of Object.values(SECRETS)) {
      expect(yaml).not.toContain(value);
      expect(files.get(ENV_FILE)).toContain(value);
    }
    expect(compose.services.broker?.healthcheck?.test.join(" ")).toContain('"$$ARTEMIS_PASSWORD"');
  });

  it("gives each service its own runtime database role, broker user and admin token, and its name as allowed host", () => {
    const { files, compose } = render();
    const sender = compose.services.sender?.environment ?? {};
    const secret = (name: string) => `\${${name}:?${name} is not set: see .env}`;
    expect(sender.ConnectionStrings__senderdb).toBe(
      `postgresql://senderdb_app:${secret("SECRET_SENDERDB_APP_PASSWORD")}@sender-pg:5432/senderdb`,
    );
    expect(sender.SENDERDB_MIGRATIONS_URI).toBeUndefined();
    expect(sender.ConnectionStrings__broker).toBe(
      `amqp://sender:${secret("SECRET_BROKER_SENDER_PASSWORD")}@broker:61616`,
    );
    expect(sender.BROKER_USERNAME).toBe("sender");
    expect(sender.ADMIN_TOKEN).toBe(secret("SECRET_SENDER_ADMIN_TOKEN"));
    expect(sender.ALLOWED_HOSTS).toBe("sender");
    const receiver = compose.services.receiver?.environment ?? {};
    expect(receiver.ConnectionStrings__broker).toContain("amqp://receiver:${SECRET_BROKER_RECEIVER_PASSWORD");
    expect(receiver.ADMIN_TOKEN).toBe(secret("SECRET_RECEIVER_ADMIN_TOKEN"));
    // No service gets a superuser or the broker's admin.
    const yaml = files.get(COMPOSE_FILE) ?? "";
    expect(yaml).not.toMatch(/postgresql:\/\/postgres:/);
    expect(yaml).not.toContain("amqp://artemis:");

    // The broker reads its users (hashed) and roles from the mounted configuration on every start.
    const users = files.get("artemis/broker/artemis-users.properties") ?? "";
    expect(users).toMatch(/^artemis = ENC\(/m);
    expect(users).toMatch(/^sender = ENC\(/m);
    expect(users).toMatch(/^receiver = ENC\(/m);
    for (const value of Object.values(SECRETS)) expect(users).not.toContain(value);
    expect(
      renderCompose(deployPlan(buildApp()), SECRETS).get("artemis/broker/artemis-users.properties"),
    ).toBe(users);
    expect(files.get("artemis/broker/artemis-roles.properties")).toContain("sender = sender");
    const properties = files.get("artemis/broker/broker.properties") ?? "";
    expect(properties).toContain('securityRoles."entity-items".sender.send=true');
    expect(properties).toContain(
      'securityRoles."delivery-receipts\\:\\:delivery-receipts".sender.consume=true',
    );
    expect(compose.services.broker?.environment?.JAVA_ARGS_APPEND).toBe(
      "-Djava.security.auth.login.config=/etc/outbox-broker/login.config -Xmx1g",
    );
    expect(compose.services.broker?.volumes).toContain(
      "./artemis/broker/artemis-users.properties:/etc/outbox-broker/artemis-users.properties:ro",
    );

    // The databases' roles are made by the image's init script, from the container's variables.
    const init = files.get("postgres/sender-pg/10-databases-and-roles.sh") ?? "";
    expect(init).toContain("CREATE ROLE senderdb_app LOGIN NOSUPERUSER");
    expect(init).toContain("ALTER DEFAULT PRIVILEGES FOR ROLE senderdb_owner");
    expect(init).not.toContain("senderdbAppValue11");
    // The passwords reach psql through its own environment (\getenv), never its command line.
    expect(init).toContain("\\getenv owner_password SECRET_SENDERDB_OWNER_PASSWORD\n");
    expect(init).toContain("\\getenv app_password SECRET_SENDERDB_APP_PASSWORD\n");
    expect(init).not.toMatch(/--set|-v \w+_password|\$SECRET_|\$\{SECRET_/);
    expect(compose.services["sender-pg"]?.environment?.SECRET_SENDERDB_APP_PASSWORD).toBe(
      secret("SECRET_SENDERDB_APP_PASSWORD"),
    );
  });

  it("publishes parameters as the services' variables: defaults as literals, secrets from .env", () => {
    const { compose } = render();
    expect(compose.services.sender?.environment?.LOG_LEVEL).toBe("info");
    expect(compose.services.sender?.depends_on).not.toHaveProperty("log-level");

    const model = buildApp();
    const apiKey = model.addParameter("api-key", { secret: true });
    const region = model.addParameter("region");
    const sender = model.resource("sender") as NodeServiceResource;
    sender.withEnvironment("API_KEY", apiKey).withReference(apiKey);
    const files = renderCompose(deployPlan(model), { ...SECRETS, SECRET_PARAMETER_API_KEY: "apiKeyValue5" });
    const yaml = files.get(COMPOSE_FILE) ?? "";
    expect(yaml).not.toContain("apiKeyValue5");
    expect(files.get(ENV_FILE)).toContain("apiKeyValue5");
    const published = parse(yaml) as { services: Record<string, ComposeService> };
    expect(published.services.sender?.environment?.API_KEY).toContain("${SECRET_PARAMETER_API_KEY");
    expect(published.services.sender?.environment?.["Parameters__api-key"]).toContain(
      "${SECRET_PARAMETER_API_KEY",
    );
    // A non-secret parameter without a default has no value to publish: a clear error, not a hole.
    sender.withEnvironment("REGION", region);
    expect(() => deployPlan(model)).toThrow(/parameter "region".*no default/);
  });

  it("adds a resource added to the model", () => {
    const model = buildApp();
    const db = model.addPostgres("billing-pg").addDatabase("billingdb");
    model
      .addNodeService("billing", "billing-service")
      .withReference(db)
      .waitFor(db)
      .withHttpEndpoint()
      .withHttpHealthCheck("/health")
      .withMigrations();
    // A new secret needs a value: nothing is rendered with a hole in it.
    expect(() => renderCompose(deployPlan(model), SECRETS)).toThrow(/SECRET_BILLING_PG_PASSWORD/);
    const files = renderCompose(deployPlan(model), {
      ...SECRETS,
      SECRET_BILLING_PG_PASSWORD: "billingSecret4",
      SECRET_BILLINGDB_OWNER_PASSWORD: "billingOwner14",
      SECRET_BILLINGDB_APP_PASSWORD: "billingApp15",
      SECRET_BILLING_ADMIN_TOKEN: "billingToken16",
    });
    const compose = parse(files.get(COMPOSE_FILE) ?? "") as { services: Record<string, ComposeService> };
    expect(compose.services["billing-pg"]?.healthcheck).toBeDefined();
    expect(compose.services.billing?.depends_on).toEqual({
      "billing-pg": { condition: "service_healthy" },
      "billing-migrate": { condition: "service_completed_successfully" },
    });
    expect(compose.services["billing-migrate"]?.environment?.BILLINGDB_MIGRATIONS_URI).toContain(
      "postgresql://billingdb_owner:",
    );
  });
});
