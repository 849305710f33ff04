import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildApp } from "../../app.js";
import { NodeServiceResource } from "../../model/node-service.js";
import { deployPlan } from "../deploy-plan.js";
import { COMPOSE_FILE, ENV_FILE, renderCompose } from "./compose-publisher.js";

interface ComposeService {
  image: string;
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
      ["broker", "receiver", "receiver-pg", "sender", "sender-pg"].sort(),
    );
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.healthcheck?.test.length, name).toBeGreaterThan(0);
    }
    expect(compose.services["sender-pg"]?.healthcheck?.test).toContain("pg_isready");
    expect(compose.services.broker?.healthcheck?.test.join(" ")).toContain("artemis check node --up");
    expect(compose.services.sender?.healthcheck?.test.join(" ")).toContain("/health");
  });

  it("turns waitFor into depends_on service_healthy and keeps data on named volumes", () => {
    const { compose } = render();
    expect(compose.services.sender?.depends_on).toEqual({
      "sender-pg": { condition: "service_healthy" },
      broker: { condition: "service_healthy" },
    });
    expect(compose.services.receiver?.depends_on).toEqual({
      "receiver-pg": { condition: "service_healthy" },
      broker: { condition: "service_healthy" },
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
    for (const name of ["sender-pg", "receiver-pg", "broker"])
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
    expect(sender.SENDERDB_MIGRATIONS_URI).toBe(
      `postgresql://senderdb_owner:${secret("SECRET_SENDERDB_OWNER_PASSWORD")}@sender-pg:5432/senderdb`,
    );
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
      "-Djava.security.auth.login.config=/etc/outbox-broker/login.config",
    );
    expect(compose.services.broker?.volumes).toContain(
      "./artemis/broker/artemis-users.properties:/etc/outbox-broker/artemis-users.properties:ro",
    );

    // The databases' roles are made by the image's init script, from the container's variables.
    const init = files.get("postgres/sender-pg/10-databases-and-roles.sh") ?? "";
    expect(init).toContain("CREATE ROLE senderdb_app LOGIN NOSUPERUSER");
    expect(init).toContain("ALTER DEFAULT PRIVILEGES FOR ROLE senderdb_owner");
    expect(init).not.toContain("senderdbAppValue11");
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
      .withHttpHealthCheck("/health");
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
    expect(compose.services.billing?.depends_on).toEqual({ "billing-pg": { condition: "service_healthy" } });
  });
});
