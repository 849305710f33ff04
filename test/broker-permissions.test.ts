import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Connection, EventContext } from "rhea";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DistributedApplication } from "@outbox/apphost";
import { buildApp } from "../apphost.js";
import { repositoryRoot } from "@outbox/apphost/testing";
import { removeContainers, removeVolumes } from "../apphost/src/providers/container/docker-objects.js";
import {
  BrokerManagement,
  ManagementOperationError,
} from "../messaging/src/transports/artemis/management.js";
import { useAdminTokens } from "./support/admin.js";
import {
  connectToBroker,
  connectToBrokerAt,
  deadLetters,
  entityItemCreatedMessage,
  eventually,
  sendAndConfirm,
} from "./support/receiver.js";
import { postEntity, query } from "./support/system.js";
import { useAvailableImages } from "./support/test-images.js";

// Least privilege on the broker: each service connects with a user of its own that can do what
// the application model says it does there, and nothing else. Checked against the real broker in
// both modes; in container mode again after a restart on the existing volume (the image copies
// its etc-override only when it creates the instance), with a changed password.

/** AMQ229032 / AMQ229213: "User: x does not have permission=…". */
const UNAUTHORIZED = /^amqp:unauthorized-access: .*does not have permission/;
/**
 * An anycast address without a queue (the dead-letter address): the broker tries to create the
 * queue for the producer first, and refuses that (no createDurableQueue) as an internal error.
 */
const REFUSED_BY_PERMISSION = /^amqp:[a-z-]+: .*does not have permission/;

/** "open", or "<condition>: <description>" of the error the broker closed the link with. */
type LinkOutcome = string;

/** Attaches a link and reports "open" or the error the broker closed it with. */
function attach(connection: Connection, kind: "send" | "consume", address: string): Promise<LinkOutcome> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to attaching ${kind} ${address}`)), 15_000);
    const link =
      kind === "send"
        ? connection.open_sender({ target: { address } })
        : connection.open_receiver({ source: { address }, credit_window: 0 });
    const done = (outcome: LinkOutcome): void => {
      clearTimeout(timer);
      if (!link.is_closed()) link.close();
      resolve(outcome);
    };
    link.once(kind === "send" ? "sender_open" : "receiver_open", () => {
      // The broker answers a refused attach with an attach and then a detach carrying the error:
      // wait for that detach a moment before calling the link open.
      setTimeout(() => {
        if (link.is_open()) done("open");
      }, 500);
    });
    link.once(kind === "send" ? "sender_error" : "receiver_error", (ctx: EventContext) => {
      const error = (kind === "send" ? ctx.sender : ctx.receiver)?.error as
        { condition?: string; description?: string } | undefined;
      done(`${error?.condition ?? "error"}: ${error?.description ?? ""}`);
    });
  });
}

/** The failure text of a management call, or "ok". */
async function manage(
  management: BrokerManagement,
  resource: string,
  operation: string,
  args: unknown[] = [],
): Promise<string> {
  try {
    await management.call(resource, operation, args);
    return "ok";
  } catch (error) {
    if (error instanceof ManagementOperationError) return error.message;
    throw error;
  }
}

function brokerUrlOf(app: DistributedApplication, service: string): string {
  const url = app.environmentOf(service)?.ConnectionStrings__broker;
  if (!url) throw new Error(`${service} has no ConnectionStrings__broker`);
  return url;
}

/** The assertions, on a running application. */
async function expectLeastPrivilege(app: DistributedApplication): Promise<void> {
  const senderUrl = brokerUrlOf(app, "sender");
  const receiverUrl = brokerUrlOf(app, "receiver");
  expect(decodeURIComponent(new URL(senderUrl).username)).toBe("sender");
  expect(decodeURIComponent(new URL(receiverUrl).username)).toBe("receiver");
  // The AppHost's own (admin) user reaches no service.
  const admin = new URL(app.getConnectionString("broker"));
  for (const service of ["sender", "receiver"]) {
    const env = app.environmentOf(service) ?? {};
    expect(env.BROKER_USERNAME).toBe(service);
    expect(Object.values(env).some((v) => v.includes(decodeURIComponent(admin.password)))).toBe(false);
  }

  const sender = await connectToBrokerAt(senderUrl);
  const receiver = await connectToBrokerAt(receiverUrl);
  try {
    // Preconditions: each may do its own part.
    expect(await attach(sender, "send", "entity-items")).toBe("open");
    expect(await attach(receiver, "send", "delivery-receipts")).toBe("open");

    // The sender's user: no consuming the consumer groups' queues, no receipts of its own
    // making, no dead-letter address; management only for its receipts' DLQ (checked below).
    expect(await attach(sender, "consume", "entity-items.receiver")).toMatch(UNAUTHORIZED);
    expect(await attach(sender, "consume", "entity-items.audit")).toMatch(UNAUTHORIZED);
    expect(await attach(sender, "send", "entity-items.receiver")).toMatch(UNAUTHORIZED);
    expect(await attach(sender, "send", "delivery-receipts")).toMatch(UNAUTHORIZED);
    expect(await attach(sender, "send", "DLQ")).toMatch(REFUSED_BY_PERMISSION);
    expect(await attach(sender, "consume", "DLQ")).toMatch(REFUSED_BY_PERMISSION);
    expect(await attach(sender, "send", "activemq.management")).toBe("open");

    // The receiver's user: no publishing events, no stealing the sender's receipts.
    expect(await attach(receiver, "send", "entity-items")).toMatch(UNAUTHORIZED);
    expect(await attach(receiver, "consume", "delivery-receipts")).toMatch(UNAUTHORIZED);
    expect(await attach(receiver, "send", "DLQ")).toMatch(REFUSED_BY_PERMISSION);
  } finally {
    sender.close();
    receiver.close();
  }

  // A poison message makes the receiver group's DLQ exist (a management call on a queue that
  // does not exist fails before any permission check).
  const adminConnection = await connectToBroker(app);
  try {
    const entity = {
      id: randomUUID(),
      name: "poison",
      description: null,
      createdAt: new Date().toISOString(),
    };
    await sendAndConfirm(
      adminConnection,
      "entity-items.receiver",
      entityItemCreatedMessage(entity, { body: "{not json" }),
    );
  } finally {
    adminConnection.close();
  }
  const receiverHttp = app.getEndpoint("receiver");
  // The receiver's DLQ API works with its own user: browse (view) …
  const listed = await eventually("the poison message in the receiver's DLQ", async () => {
    const page = await deadLetters(receiverHttp, "receiver");
    return page.count >= 1 ? page : undefined;
  });
  expect(listed.items.length).toBeGreaterThanOrEqual(1);

  // The sender's user manages the receipts' DLQ only: not the receiver's DLQs (while the one
  // above exists: a missing queue fails before the permission check), not the queues.
  const senderManagementConnection = await connectToBrokerAt(senderUrl);
  const senderManagement = new BrokerManagement(senderManagementConnection);
  try {
    expect(await manage(senderManagement, "queue.DLQ.entity-items.receiver", "countMessages", [""])).toMatch(
      /does not have permission/,
    );
    expect(await manage(senderManagement, "queue.delivery-receipts", "removeAllMessages")).toMatch(
      /does not have permission/,
    );
    expect(await manage(senderManagement, "broker", "getStatus")).toMatch(/does not have permission/);
  } finally {
    senderManagement.close();
    senderManagementConnection.close();
  }

  const receiverManagementConnection = await connectToBrokerAt(receiverUrl);
  const management = new BrokerManagement(receiverManagementConnection);
  try {
    // … and, through management, exactly the operations of its DLQ API, on its DLQs only.
    expect(await manage(management, "queue.DLQ.entity-items.receiver", "countMessages", [""])).toBe("ok");
    expect(
      await manage(management, "queue.DLQ.entity-items.receiver", "moveMessages", ["", "entity-items.audit"]),
    ).toMatch(/does not have permission/);
    expect(await manage(management, "queue.DLQ.entity-items.receiver", "removeAllMessages")).toMatch(
      /does not have permission/,
    );
    expect(await manage(management, "queue.entity-items.receiver", "countMessages", [""])).toMatch(
      /does not have permission/,
    );
    expect(await manage(management, "queue.delivery-receipts", "removeAllMessages")).toMatch(
      /does not have permission/,
    );
    expect(await manage(management, "broker", "getStatus")).toMatch(/does not have permission/);
    // Deleting its own dead letter is its to do.
    const id = listed.items[0]!.id;
    expect(await manage(management, "queue.DLQ.entity-items.receiver", "removeMessage", [id])).toBe("ok");
  } finally {
    management.close();
    receiverManagementConnection.close();
  }

  // End to end with the restricted users: published, consumed by both groups, receipt back.
  const created = await postEntity(app.getEndpoint("sender"), { name: "least privilege on the broker" });
  expect(created.status).toBe(201);
  const senderDb = app.getConnectionString("senderdb");
  await eventually("the outbox row delivered (receipt consumed by the sender)", async () => {
    const rows = await query<{ status: string }>(
      senderDb,
      "SELECT status FROM outbox_messages WHERE aggregate_id = $1",
      [(created.body as { id: string }).id],
    );
    return rows[0]?.status === "delivered" ? true : undefined;
  });
}

describe("broker users, process mode", () => {
  let app: DistributedApplication;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "broker-permissions-"));
    app = new DistributedApplication(buildApp(), { rootDir: repositoryRoot, stateDir, mode: "process" });
    await app.start();
    useAdminTokens(app);
  });
  afterAll(async () => {
    await app?.stop();
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  it("each service's user may do its own part and nothing else", async () => {
    await expectLeastPrivilege(app);
  });
});

describe("broker users, container mode (and again on the existing volume)", () => {
  let app: DistributedApplication | undefined;
  let stateDir: string;
  beforeAll(async () => {
    await useAvailableImages();
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "broker-permissions-container-"));
  });
  afterAll(async () => {
    await app?.stop();
    await removeContainers(stateDir).catch(() => []);
    await removeVolumes(stateDir).catch(() => []);
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  it("gets the same users and permissions on a new volume", async () => {
    app = new DistributedApplication(buildApp(), { rootDir: repositoryRoot, stateDir, mode: "container" });
    await app.start();
    useAdminTokens(app);
    await expectLeastPrivilege(app);
    await app.stop();
    app = undefined;
  });

  it("and after a restart on that volume, with a changed service password", async () => {
    // A new password for the sender's user: it must reach the broker although its instance
    // (etc/ included) already exists on the volume.
    const file = path.join(stateDir, "settings.json");
    const settings = JSON.parse(await fs.readFile(file, "utf8")) as Record<
      string,
      { secrets?: Record<string, string> }
    >;
    const before = settings.broker?.secrets?.["sender-password"];
    expect(before).toBeTruthy();
    delete settings.broker!.secrets!["sender-password"];
    await fs.writeFile(file, JSON.stringify(settings), { mode: 0o600 });

    app = new DistributedApplication(buildApp(), { rootDir: repositoryRoot, stateDir, mode: "container" });
    await app.start();
    useAdminTokens(app);
    const after = new URL(brokerUrlOf(app, "sender")).password;
    expect(decodeURIComponent(after)).not.toBe(before);
    await expectLeastPrivilege(app);
  });
});
