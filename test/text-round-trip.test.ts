import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { ENTITY_ITEM_DESCRIPTION, ENTITY_ITEM_NAME } from "@outbox/service-defaults";
import { eventually } from "./support/receiver.js";
import { postEntity, query, type CreatedEntity } from "./support/system.js";

// Text at the edges of the limits, through the whole path: sender API → outbox → relay → Artemis →
// both consumer groups (the entity copy and the audit log). Whatever the sender answers 2xx for is
// applied by both groups with the very same text; what it refuses leaves nothing in the outbox.
let app: DistributedApplication;
let sender: string;

beforeAll(async () => {
  app = await startTestApp();
  sender = app.getEndpoint("sender");
});

afterAll(async () => {
  await stopTestApp(app);
});

const NAME_MAX = ENTITY_ITEM_NAME.maxLength;
const DESCRIPTION_MAX = ENTITY_ITEM_DESCRIPTION.maxLength;

/** `unit` repeated to exactly `codePoints` code points (unit's length must divide it). */
function fill(unit: string, codePoints: number): string {
  const per = [...unit].length;
  if (codePoints % per !== 0) throw new Error(`${per} does not divide ${codePoints}`);
  return unit.repeat(codePoints / per);
}

const EMOJI = "😀"; // astral: one code point, two UTF-16 units, four UTF-8 bytes
const FAMILY = "👩‍👩‍👧"; // five code points joined into one glyph
const COMBINING = "e\u0301\u0323"; // a letter with two combining marks: three code points
const RTL = "שלום עולם"; // Hebrew, right to left: nine code points
const MIXED = "abc \u202eעברית\u202c ١٢٣ "; // an override, RTL letters, Arabic-Indic digits

interface Entity extends CreatedEntity {
  version: number;
}

interface Problem {
  status: number;
  errors?: Array<{ path: string; location: string; message: string }>;
}

async function put(id: string, version: number, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${sender}/api/EntityItems/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json", "if-match": `"${version}"` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as unknown };
}

async function create(name: string, description: string | null): Promise<Entity> {
  const response = await postEntity(sender, { name, description });
  expect(response.status, JSON.stringify(response.body).slice(0, 300)).toBe(201);
  return response.body as Entity;
}

interface Applied {
  entity: { name: string; description: string | null; version: number; nameHex: string } | undefined;
  audit: Array<{ version: number; name: string; description: string | null }>;
  poison: string[];
}

/** What both groups made of one entity, and any poison failure recorded for its messages. */
async function appliedOf(id: string): Promise<Applied> {
  const receiverDb = app.getConnectionString("receiverdb");
  const [entity] = await query<{
    name: string;
    description: string | null;
    version: number;
    name_hex: string;
  }>(
    receiverDb,
    "SELECT name, description, version, encode(convert_to(name, 'UTF8'), 'hex') AS name_hex FROM received_items WHERE id = $1",
    [id],
  );
  const audit = await query<{ version: number; name: string; description: string | null }>(
    receiverDb,
    `SELECT aggregate_version AS version,
            coalesce(payload->'item'->>'name', payload->>'name') AS name,
            CASE WHEN payload ? 'item' THEN payload->'item'->>'description' ELSE payload->>'description' END AS description
       FROM audit_log WHERE aggregate_id = $1 ORDER BY position`,
    [id],
  );
  const messageIds = (
    await query<{ id: string }>(
      app.getConnectionString("senderdb"),
      "SELECT id::text FROM outbox_messages WHERE aggregate_id = $1",
      [id],
    )
  ).map((row) => row.id);
  const poison = await query<{ error: string }>(
    receiverDb,
    "SELECT consumer_group || ': ' || error AS error FROM delivery_failures WHERE message_id = ANY($1) AND kind = 'poison'",
    [messageIds],
  );
  return {
    entity:
      entity === undefined
        ? undefined
        : {
            name: entity.name,
            description: entity.description,
            version: entity.version,
            nameHex: entity.name_hex,
          },
    audit,
    poison: poison.map((row) => row.error),
  };
}

/** Waits until both groups logged `version` of the entity, or a group dead-lettered one of its messages. */
async function bothGroupsAt(id: string, version: number): Promise<Applied> {
  return eventually(`entity ${id} at version ${version} in both groups (or refused)`, async () => {
    const applied = await appliedOf(id);
    if (applied.poison.length > 0) return applied;
    return applied.entity?.version === version && applied.audit.length === version ? applied : undefined;
  });
}

function expectApplied(applied: Applied, name: string, description: string | null, version: number): void {
  expect(applied.poison, "no group refused the event").toEqual([]);
  expect(applied.entity?.version).toBe(version);
  // Compared as strings and as the UTF-8 bytes PostgreSQL stored: no normalisation, no replacement.
  expect(applied.entity?.name === name).toBe(true);
  expect(applied.entity?.nameHex).toBe(Buffer.from(name, "utf8").toString("hex"));
  expect(applied.entity?.description === description).toBe(true);
  const last = applied.audit.at(-1);
  expect(last?.version).toBe(version);
  expect(last?.name === name).toBe(true);
  expect(last?.description === description).toBe(true);
}

async function outboxRowsWithName(name: string): Promise<number> {
  const rows = await query<{ n: string }>(
    app.getConnectionString("senderdb"),
    "SELECT count(*)::text AS n FROM outbox_messages WHERE payload->>'name' = $1",
    [name],
  );
  return Number(rows[0]?.n ?? 0);
}

describe("text round-trips at the limits", () => {
  it("applies names and descriptions exactly at the limits, in both groups, byte for byte", async () => {
    const cases: Array<{
      name: string;
      description: string | null;
      update: { name: string; description: string | null };
    }> = [
      {
        name: fill(EMOJI, NAME_MAX),
        description: fill(FAMILY, DESCRIPTION_MAX),
        update: { name: fill(COMBINING, 198) + "ab", description: fill(RTL, 1998) + ".." },
      },
      {
        name: fill(RTL, 198) + "!?",
        description: fill(COMBINING, 1998) + EMOJI + EMOJI,
        update: { name: fill(FAMILY, NAME_MAX), description: null },
      },
      {
        name: `${MIXED}${fill(EMOJI, NAME_MAX - [...MIXED].length)}`,
        description: null,
        update: { name: fill(EMOJI, NAME_MAX), description: fill(EMOJI, DESCRIPTION_MAX) },
      },
    ];
    // Precondition: every text is exactly at its limit in code points; the astral ones are beyond
    // it in UTF-16 units (what the receiver used to count).
    for (const c of cases) {
      expect([...c.name].length).toBe(NAME_MAX);
      expect([...c.update.name].length).toBe(NAME_MAX);
      for (const d of [c.description, c.update.description])
        if (d !== null) expect([...d].length).toBe(DESCRIPTION_MAX);
    }
    expect(cases[0]?.name.length).toBe(2 * NAME_MAX);
    expect(cases[2]?.update.description?.length).toBe(2 * DESCRIPTION_MAX);

    const created = await Promise.all(cases.map((c) => create(c.name, c.description)));
    created.forEach((entity, i) => {
      const c = cases[i];
      expect(entity.name === c?.name).toBe(true);
      expect(entity.description === c?.description).toBe(true);
    });
    for (const [i, entity] of created.entries()) {
      const c = cases[i];
      if (c === undefined) continue;
      expectApplied(await bothGroupsAt(entity.id, 1), c.name, c.description, 1);
    }

    const updated = await Promise.all(created.map((entity, i) => put(entity.id, 1, cases[i]?.update)));
    expect(updated.map((r) => r.status)).toEqual([200, 200, 200]);
    for (const [i, entity] of created.entries()) {
      const c = cases[i];
      if (c === undefined) continue;
      expectApplied(await bothGroupsAt(entity.id, 2), c.update.name, c.update.description, 2);
    }
  });

  it("refuses one character beyond a limit, and text that cannot be carried, naming the field; nothing reaches the outbox", async () => {
    const tag = `beyond-${Date.now()}`;
    const overName = `${tag}${fill(EMOJI, NAME_MAX - tag.length)}a`;
    const refused: Array<{ body: Record<string, unknown>; field: string }> = [
      { body: { name: overName }, field: "name" },
      {
        body: { name: `${tag}-d`, description: fill(COMBINING, 1998) + EMOJI + EMOJI + "x" },
        field: "description",
      },
      { body: { name: `${tag}-nul\u0000` }, field: "name" },
      { body: { name: `${tag}-lone`, description: "broken \ud83d pair" }, field: "description" },
    ];
    expect([...overName].length).toBe(NAME_MAX + 1);

    for (const { body, field } of refused) {
      const response = await postEntity(sender, body);
      expect(response.status, field).toBe(400);
      expect(response.headers.get("content-type")).toMatch(/application\/problem\+json/);
      expect((response.body as Problem).errors?.map((e) => e.path)).toContain(field);
    }

    const entity = await create(`${tag}-put`, null);
    for (const { body, field } of refused) {
      const response = await put(entity.id, 1, body);
      expect(response.status, field).toBe(400);
      expect((response.body as Problem).errors?.map((e) => e.path)).toContain(field);
    }

    // Only the creation reached the outbox: no refused request wrote an event.
    const events = await query<{ type: string }>(
      app.getConnectionString("senderdb"),
      "SELECT type FROM outbox_messages WHERE aggregate_id = $1",
      [entity.id],
    );
    expect(events.map((e) => e.type)).toEqual(["EntityItemCreated"]);
    expect(await outboxRowsWithName(overName)).toBe(0);
    expect(await outboxRowsWithName(`${tag}-d`)).toBe(0);
  });

  it("documents the unit in the OpenAPI document clients read", async () => {
    const document = (await (await fetch(`${sender}/openapi.json`)).json()) as {
      components: {
        schemas: Record<string, { properties: Record<string, { maxLength?: number; description?: string }> }>;
      };
    };
    for (const schema of ["CreateEntityItem", "UpdateEntityItem"]) {
      const { name, description } = document.components.schemas[schema]?.properties ?? {};
      expect(name?.maxLength).toBe(NAME_MAX);
      expect(name?.description).toMatch(/Unicode code points/);
      expect(description?.description).toMatch(/Up to 2000 characters, counted in Unicode code points/);
    }
  });
});
