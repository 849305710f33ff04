import { describe, expect, it } from "vitest";
import { isSecretName, maskCredentials, maskEnvironment } from "./mask.js";

describe("secret masking", () => {
  it("recognises secret names by pattern, not by a fixed list", () => {
    for (const name of [
      "SENDERDB_PASSWORD",
      "SMTP_PASS",
      "GPG_PASSPHRASE",
      "MYSQL_PWD",
      "STRIPE_API_KEY",
      "AWS_ACCESS_KEY",
      "AWS_SECRET_ACCESS_KEY",
      "ADMIN_TOKEN",
      "GITHUB_TOKEN_FILE",
      "refresh_token",
      "CLIENT_SECRET",
      "OTEL_EXPORTER_OTLP_HEADERS",
      "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
      "SSH_PRIVATE_KEY",
    ])
      expect(isSecretName(name), name).toBe(true);
    for (const name of [
      "PORT",
      "PATH",
      "KEYBOARD_LAYOUT",
      "COMPASS_HEADING",
      "ConnectionStrings__broker",
      "OTEL_SERVICE_NAME",
    ])
      expect(isSecretName(name), name).toBe(false);
  });

  it("masks credentials inside URLs and key=value connection strings", () => {
    expect(maskCredentials("postgresql://owner:hunter2@127.0.0.1:5432/db")).toBe(
      "postgresql://owner:***@127.0.0.1:5432/db",
    );
    expect(maskCredentials("amqp://:pw@h:1 and https://u:p@x/")).toBe("amqp://:***@h:1 and https://u:***@x/");
    expect(maskCredentials("Host=h;Username=u;Password=s3cr;et=1;Port=5")).toBe(
      "Host=h;Username=u;Password=***;et=1;Port=5",
    );
    expect(maskCredentials("host=h user=u password='a b' dbname=d")).toBe(
      "host=h user=u password=*** dbname=d",
    );
    expect(maskCredentials("http://h/cb?token=abc&x=1")).toBe("http://h/cb?token=***&x=1");
    expect(maskCredentials("no secrets here")).toBe("no secrets here");
  });

  it("masks a whole environment", () => {
    expect(
      maskEnvironment({
        ConnectionStrings__senderdb: "postgresql://app:pw@127.0.0.1:1/senderdb",
        SENDERDB_PASSWORD: "pw",
        ADMIN_TOKEN: "t",
        EMPTY_SECRET: "",
        PORT: "1",
      }),
    ).toEqual({
      ADMIN_TOKEN: "***",
      ConnectionStrings__senderdb: "postgresql://app:***@127.0.0.1:1/senderdb",
      EMPTY_SECRET: "",
      PORT: "1",
      SENDERDB_PASSWORD: "***",
    });
  });
});
