import type { DeadLetterQueue } from "@outbox/messaging";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger, ServiceHost } from "@outbox/service-defaults";
import type { Database } from "../data/db.js";
import { registerDeadLetterRoutes } from "./dead-letter-routes.js";

// Where the OpenAPI fuzzer (test/openapi-fuzz.test.ts) found the receiver's document and
// behaviour disagreeing. Every request here is answered before the broker or the database.
const TOKEN = "t".repeat(24);
const unreachable = <T extends object>(): T =>
  new Proxy({} as T, {
    get: () => {
      throw new Error("must not be reached");
    },
  });

const hosts: ServiceHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

async function startReceiver(): Promise<string> {
  const host = new ServiceHost({
    name: "receiver-service",
    version: "0.0.0",
    logger: createLogger("test", "silent"),
    port: 0,
    handleSignals: false,
    admin: { routePrefixes: ["/api/DeadLetters"], tokens: [TOKEN] },
  });
  hosts.push(host);
  const byGroup = new Map([
    ["receiver", unreachable<DeadLetterQueue>()],
    ["audit", unreachable<DeadLetterQueue>()],
  ]);
  registerDeadLetterRoutes(host, unreachable<Database>(), { byGroup, defaultGroup: "receiver" });
  return (await host.start()).url;
}

const admin = { authorization: `Bearer ${TOKEN}` };

describe("receiver API: document and behaviour agree", () => {
  it("documents the consumer groups as an enum and refuses another with 400 (was an undocumented 404)", async () => {
    const url = await startReceiver();
    for (const [method, path] of [
      ["GET", "/api/DeadLetters"],
      ["GET", "/api/DeadLetters/count"],
      ["POST", "/api/DeadLetters/replay"],
    ])
      expect((await fetch(`${url}${path}?group=nope`, { method, headers: admin })).status, path).toBe(400);
    const document = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<string, { get: { parameters: Array<{ name: string; schema: { enum?: string[] } }> } }>;
    };
    const group = document.paths["/api/DeadLetters/count"]?.get.parameters.find((p) => p.name === "group");
    expect(group?.schema.enum).toEqual(["receiver", "audit"]);
  });

  it("answers DELETE /api/DeadLetters/count with 405 and the count path's methods (it reached {id})", async () => {
    const url = await startReceiver();
    const response = await fetch(`${url}/api/DeadLetters/count`, { method: "DELETE", headers: admin });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
    expect(
      (await fetch(`${url}/api/DeadLetters/replay`, { method: "DELETE", headers: admin })).headers.get(
        "allow",
      ),
    ).toBe("POST");
  });

  it("documents the dead letter id as a required integer and refuses anything else with 400", async () => {
    const url = await startReceiver();
    for (const id of ["null", "1e3", "0x1", "-1"])
      expect(
        (await fetch(`${url}/api/DeadLetters/${id}`, { method: "DELETE", headers: admin })).status,
        id,
      ).toBe(400);
    const document = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<
        string,
        { delete: { parameters: Array<{ name: string; required: boolean; schema: object }> } }
      >;
    };
    const id = document.paths["/api/DeadLetters/{id}"]?.delete.parameters.find((p) => p.name === "id");
    expect(id).toMatchObject({ required: true, schema: { type: "integer", minimum: 0 } });
  });
});
