import type { Logger } from "@outbox/service-defaults";
import type { Connection, EventContext, Message, Sender, SenderOptions } from "rhea";
import { toAmqpEnvelope, type OutgoingEnvelope } from "../../contracts/envelope.js";
import type { PublisherState, PublishOutcome, TransportPublisher } from "../../transport/transport.js";

/** The part of AmqpConnection the publisher uses. */
export interface PublisherConnection {
  readonly connection: Connection;
  isConnected(): boolean;
  lastError(): string | undefined;
  on(event: "connected" | "disconnected", fn: () => void): unknown;
  off(event: "connected" | "disconnected", fn: () => void): unknown;
}

export interface AmqpPublisherOptions {
  amqp: PublisherConnection;
  address: string;
  /** Link name prefix; an attach counter is appended so a re-attached link never reuses a name. */
  linkName: string;
  /** No outcome within this time: the send counts as unknown. */
  sendTimeoutMs: number;
  logger: Logger;
}

interface InFlight {
  resolve: (outcome: PublishOutcome) => void;
  timer: NodeJS.Timeout;
}

/**
 * A small promise layer over one rhea sender link: `send()` resolves with the broker's outcome
 * for that message, never rejects.
 *
 * Outcomes are correlated by OUR delivery tag (a counter that never restarts), not by rhea's
 * delivery id, which restarts after a reconnect. rhea drops unsettled sends silently when the
 * connection drops, so on `disconnected` (and on detach, and per send after a timeout) every send
 * still in flight resolves as `unknown`: the caller must assume nothing and resend.
 */
export class AmqpPublisher implements TransportPublisher {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly waiters = new Set<() => void>();
  private sender: Sender | undefined;
  private nextTag = 0;
  private attachCount = 0;
  private linkError: string | undefined;
  private closed = false;

  constructor(private readonly opts: AmqpPublisherOptions) {}

  /** Starts attaching the link (now if connected, else when the connection comes up). */
  start(): void {
    this.opts.amqp.on("connected", this.onConnected);
    this.opts.amqp.on("disconnected", this.onDisconnected);
    this.ensureLink();
  }

  /** True when a message can be handed to the link right now. */
  isSendable(): boolean {
    return this.sender !== undefined && this.sender.is_open() && this.sender.sendable();
  }

  state(): PublisherState {
    return {
      connected: this.opts.amqp.isConnected(),
      linkOpen: this.sender?.is_open() ?? false,
      sendable: this.isSendable(),
      inFlight: this.inFlight.size,
      lastError: this.linkError ?? this.opts.amqp.lastError(),
    };
  }

  inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Resolves true as soon as the link can take a message, false after `timeoutMs` or on abort.
   * Attaches the link first if it was detached.
   */
  waitUntilSendable(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    this.ensureLink();
    if (this.isSendable()) return Promise.resolve(true);
    if (timeoutMs <= 0 || signal.aborted || this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const finish = (result: boolean): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.waiters.delete(onWake);
        resolve(result);
      };
      const onWake = (): void => {
        if (this.isSendable()) finish(true);
        else if (this.closed) finish(false);
      };
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(onWake);
    });
  }

  /** Publishes one envelope (toAmqpEnvelope: duplicate id, message group) and resolves with its outcome. */
  publish(envelope: OutgoingEnvelope): Promise<PublishOutcome> {
    return this.send(toAmqpEnvelope(envelope));
  }

  /** Hands one message to the link and resolves with its outcome. Never rejects. */
  send(message: Message): Promise<PublishOutcome> {
    const sender = this.sender;
    if (this.closed || sender === undefined || !this.isSendable()) {
      return Promise.resolve({ kind: "unknown", reason: "link not sendable", notSent: true });
    }
    const tag = String(this.nextTag++);
    return new Promise<PublishOutcome>((resolve) => {
      const timer = setTimeout(
        () =>
          this.settle(tag, { kind: "unknown", reason: `no outcome within ${this.opts.sendTimeoutMs} ms` }),
        this.opts.sendTimeoutMs,
      );
      this.inFlight.set(tag, { resolve, timer });
      try {
        sender.send(message, Buffer.from(tag));
      } catch (error) {
        this.settle(tag, { kind: "unknown", reason: `send failed: ${describe(error)}` });
      }
    });
  }

  /** Stops taking sends, resolves what is still in flight as unknown and detaches the link (bounded). */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.opts.amqp.off("connected", this.onConnected);
    this.opts.amqp.off("disconnected", this.onDisconnected);
    this.failInFlight("publisher closed");
    this.wakeWaiters();
    const sender = this.sender;
    this.sender = undefined;
    if (sender === undefined || !sender.is_open()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      sender.once("sender_close", () => {
        clearTimeout(timer);
        resolve();
      });
      sender.close();
    });
  }

  private readonly onConnected = (): void => {
    this.ensureLink();
    this.wakeWaiters();
  };

  private readonly onDisconnected = (): void => {
    // rhea will re-attach the link after reconnecting, but forgets every unsettled send.
    this.failInFlight(`connection lost: ${this.opts.amqp.lastError() ?? "disconnected"}`);
    this.wakeWaiters();
  };

  /** (Re)creates the sender link when there is none and the connection is up. */
  private ensureLink(): void {
    if (this.closed || this.sender !== undefined || !this.opts.amqp.isConnected()) return;
    this.attachCount += 1;
    // treat_modified_as_released is a rhea option missing from its typings.
    const options: SenderOptions & { treat_modified_as_released: boolean } = {
      name: `${this.opts.linkName}-${this.attachCount}`,
      // No capability: the address keeps its declared routing type, so this works for an anycast
      // queue and for a multicast topic whose consumer groups are fed by diverts. Auto-creation
      // is off in the AppHost's topology, so an unknown address is refused, never created empty.
      target: { address: this.opts.address },
      autosettle: true,
      // We want to tell released from modified (rhea folds modified into released by default).
      treat_modified_as_released: false,
    };
    const sender = this.opts.amqp.connection.open_sender(options);
    this.sender = sender;
    sender.on("sender_open", () => {
      this.linkError = undefined;
      this.opts.logger.info({ address: this.opts.address, link: sender.name }, "outbox sender link attached");
      this.wakeWaiters();
    });
    sender.on("sendable", () => this.wakeWaiters());
    sender.on("accepted", (ctx: EventContext) => this.settleDelivery(ctx, { kind: "accepted" }));
    sender.on("rejected", (ctx: EventContext) =>
      this.settleDelivery(ctx, { kind: "rejected", reason: describe(ctx.delivery?.remote_state?.error) }),
    );
    sender.on("released", (ctx: EventContext) => this.settleDelivery(ctx, { kind: "released" }));
    sender.on("modified", (ctx: EventContext) => {
      const state = (ctx.delivery?.remote_state ?? {}) as {
        delivery_failed?: boolean;
        undeliverable_here?: boolean;
      };
      this.settleDelivery(ctx, {
        kind: "modified",
        deliveryFailed: state.delivery_failed === true,
        undeliverableHere: state.undeliverable_here === true,
      });
    });
    // Settled without any outcome we know: nothing says the broker stored it.
    sender.on("settled", (ctx: EventContext) =>
      this.settleDelivery(ctx, { kind: "unknown", reason: "settled without outcome" }),
    );
    // Handling sender_error keeps rhea from raising it as a container 'error'.
    sender.on("sender_error", (ctx: EventContext) => {
      this.linkError = `link error: ${describe(ctx.sender?.error)}`;
    });
    sender.on("sender_close", () => {
      if (this.closed) return;
      // The broker detached the link (not a connection drop): rhea will not re-attach it, so
      // forget it and attach a new one on the next wait.
      this.opts.logger.warn(
        { address: this.opts.address, error: this.linkError },
        "outbox sender link detached by the broker",
      );
      if (this.sender === sender) this.sender = undefined;
      this.failInFlight(this.linkError ?? "link detached");
      this.wakeWaiters();
    });
  }

  private settleDelivery(ctx: EventContext, outcome: PublishOutcome): void {
    const tag = ctx.delivery?.tag;
    if (tag === undefined) return;
    this.settle(Buffer.isBuffer(tag) ? tag.toString() : String(tag), outcome);
  }

  private settle(tag: string, outcome: PublishOutcome): void {
    const entry = this.inFlight.get(tag);
    if (entry === undefined) return; // already settled (e.g. timed out earlier): a late outcome changes nothing
    this.inFlight.delete(tag);
    clearTimeout(entry.timer);
    entry.resolve(outcome);
  }

  private failInFlight(reason: string): void {
    for (const tag of [...this.inFlight.keys()]) this.settle(tag, { kind: "unknown", reason });
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

function describe(error: unknown): string {
  if (error === undefined || error === null) return "no error given";
  if (error instanceof Error) return error.message;
  if (typeof error === "object") {
    const { condition, description } = error as { condition?: unknown; description?: unknown };
    if (typeof condition === "string")
      return typeof description === "string" && description ? `${condition}: ${description}` : condition;
  }
  if (typeof error === "string") return error;
  try {
    return JSON.stringify(error);
  } catch {
    return "unprintable error";
  }
}
