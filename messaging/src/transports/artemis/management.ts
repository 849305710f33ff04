import { randomUUID } from "node:crypto";
import type { Connection, EventContext, Message, Receiver, Sender, Source } from "rhea";

/**
 * Artemis management over AMQP: a request message to `activemq.management` names a resource
 * (`queue.<name>`) and an operation; its body is a JSON array of arguments; the reply comes to our
 * dynamic reply queue with `_AMQ_OperationSucceeded` and a JSON array holding the result.
 *
 * Used for what AMQP itself cannot do on a queue: browse without consuming, count, move a given
 * message back to where it came from (inside one broker transaction), delete one.
 */
/**
 * Closes a link, but only once the broker has attached it. rhea re-opens a link whose attach
 * arrives after it was closed locally (its on_attach calls open() and sends a second attach), and
 * a CI run saw such a late attach end in rhea throwing "Attach already received" from the socket
 * handler, an uncaught exception. A stalled broker answers a timed-out attempt's attach late.
 */
function closeWhenAttached(link: Sender | Receiver): void {
  if (link.is_closed()) return;
  if (link.is_remote_open()) link.close();
  else link.once(link.is_receiver() ? "receiver_open" : "sender_open", () => link.close());
}

export class BrokerManagement {
  private sender: Sender | undefined;
  private receiver: Receiver | undefined;
  private replyTo: Promise<string> | undefined;
  private readonly pending = new Map<
    string,
    { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }
  >();

  constructor(
    private readonly connection: Connection,
    private readonly timeoutMs = 10_000,
  ) {
    // After a reconnect rhea re-attaches the links, but the dynamic reply address changes and the
    // requests in flight are lost: fail them and let the next call set things up again.
    connection.on("disconnected", this.reset);
  }

  /** Calls `operation` on `resource` (e.g. "queue.DLQ.entity-items") and returns its result. */
  async call(resource: string, operation: string, args: unknown[] = []): Promise<unknown> {
    if (!this.connection.is_open()) throw new BrokerUnavailableError("broker not connected");
    const replyTo = await this.replyAddress();
    const sender = this.sender;
    if (sender === undefined) throw new BrokerUnavailableError("management link not open");
    const id = randomUUID();
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new BrokerUnavailableError(`management call ${operation} timed out`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
    sender.send({
      message_id: id,
      reply_to: replyTo,
      application_properties: { _AMQ_ResourceName: resource, _AMQ_OperationName: operation },
      body: JSON.stringify(args),
    });
    return result;
  }

  close(): void {
    this.connection.removeListener("disconnected", this.reset);
    this.reset();
  }

  private replyAddress(): Promise<string> {
    this.replyTo ??= new Promise<string>((resolve, reject) => {
      // rhea's typings insist on an address, but a dynamic node must not name one: the broker does.
      const receiver = this.connection.open_receiver({ source: { dynamic: true } as Source });
      const sender = this.connection.open_sender({ target: { address: "activemq.management" } });
      this.receiver = receiver;
      this.sender = sender;
      const timer = setTimeout(() => {
        // Close the pair we opened, or every timed-out attempt would leave one behind.
        this.dropLinks(sender, receiver);
        reject(new BrokerUnavailableError("management reply link did not open"));
      }, this.timeoutMs);
      receiver.on("message", (ctx: EventContext) => this.onReply(ctx.message));
      receiver.once("receiver_open", () => {
        clearTimeout(timer);
        const address = (receiver.source as { address?: string } | undefined)?.address;
        if (typeof address === "string") resolve(address);
        else {
          this.dropLinks(sender, receiver);
          reject(new BrokerUnavailableError("broker gave no dynamic reply address"));
        }
      });
      // The broker may detach either link (e.g. after an error on it) while the connection stays
      // up: forget the pair so that the next call opens a new one instead of sending into a
      // closed link. The calls in flight lose their reply link with it, so they fail now.
      const detached = (): void => {
        if (this.sender !== sender) return;
        this.dropLinks(sender, receiver);
        this.failPending("management link detached during a management call");
      };
      sender.once("sender_close", detached);
      receiver.once("receiver_close", detached);
    });
    return this.replyTo;
  }

  /** Closes a link pair and, when it is still the current one, forgets it. */
  private dropLinks(sender: Sender, receiver: Receiver): void {
    if (this.sender === sender) {
      this.sender = undefined;
      this.receiver = undefined;
      this.replyTo = undefined;
    }
    closeWhenAttached(sender);
    closeWhenAttached(receiver);
  }

  private failPending(reason: string): void {
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(new BrokerUnavailableError(reason));
      this.pending.delete(id);
    }
  }

  private onReply(message: Message | undefined): void {
    if (message === undefined) return;
    const id = message.correlation_id ?? message.message_id;
    if (typeof id !== "string") return;
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    const props = (message.application_properties ?? {}) as Record<string, unknown>;
    const text = typeof message.body === "string" ? message.body : JSON.stringify(message.body ?? null);
    if (props["_AMQ_OperationSucceeded"] !== true) {
      entry.reject(new ManagementOperationError(text));
      return;
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      entry.resolve(Array.isArray(parsed) ? parsed[0] : parsed);
    } catch {
      entry.resolve(text);
    }
  }

  private readonly reset = (): void => {
    this.failPending("connection lost during a management call");
    this.sender?.close();
    this.receiver?.close();
    this.sender = undefined;
    this.receiver = undefined;
    this.replyTo = undefined;
  };
}

/** The broker could not be asked (down, reconnecting, timed out): HTTP 503. */
export class BrokerUnavailableError extends Error {
  override name = "BrokerUnavailableError";
}

/** The broker answered that the operation failed (e.g. no such message): the broker's text. */
export class ManagementOperationError extends Error {
  override name = "ManagementOperationError";
}
