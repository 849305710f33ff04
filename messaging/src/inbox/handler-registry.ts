import type { Message } from "rhea";
import type { z } from "zod";
import { readEnvelope, type IncomingEnvelope } from "../contracts/envelope.js";

/**
 * The inbox's dispatch by message type: a service declares the (type, version) pairs it reads,
 * each with a payload reader that validates and upcasts to the one shape its handler takes, then
 * one handler per type for each consumer group. The library looks the type and version up; what
 * it cannot read is poison with a reason (the consumer rejects it to the dead-letter queue), what
 * the handlers do and how their errors are classified stays the service's.
 */

/** Reads one version's payload: the handler's shape, or why the payload is invalid. Never throws. */
export interface MessageVersion<P> {
  read(payload: unknown): { ok: true; payload: P } | { ok: false; issues: string };
}

/** Every version of every type a service reads: `{ EntityItemCreated: { 1: v1, 2: v2 } }`. */
export type MessageVersions = Readonly<Record<string, Readonly<Record<number, MessageVersion<unknown>>>>>;

/** The payload type a message type's handler takes: what all its versions read into. */
export type PayloadOf<V> = V extends MessageVersion<infer P> ? P : never;

/** A message that passed its type's payload reader: envelope metadata plus the upcast payload. */
export interface TypedMessage<T extends string, P> {
  messageId: string;
  type: T;
  /** The version the producer sent (worth recording); the payload is already the handler's shape. */
  version: number;
  aggregateId: string;
  payload: P;
}

/** The message union of a set of versions, or the message of one type K. */
export type MessageOf<D extends MessageVersions, K extends keyof D & string = keyof D & string> = {
  [T in K]: TypedMessage<T, PayloadOf<D[T][keyof D[T]]>>;
}[K];

/** The message union a MessageTypes decodes (`MessageOfTypes<typeof myTypes>`). */
export type MessageOfTypes<T> = T extends MessageTypes<infer D> ? MessageOf<D> : never;

/** A decoded message, or why it can never be handled (unknown type or version, invalid payload). */
export type DecodeResult<M> = { ok: true; message: M } | { ok: false; reason: string; messageId?: string };

/**
 * A version read by a zod schema, optionally upcast to the current shape. The issues are listed as
 * `path: message; …` (`(payload)` for the payload itself).
 */
export function messageVersion<S extends z.ZodType>(schema: S): MessageVersion<z.output<S>>;
export function messageVersion<S extends z.ZodType, P>(
  schema: S,
  upcast: (payload: z.output<S>) => P,
): MessageVersion<P>;
export function messageVersion<S extends z.ZodType, P>(
  schema: S,
  upcast?: (payload: z.output<S>) => P,
): MessageVersion<P | z.output<S>> {
  return {
    read(payload) {
      const parsed = schema.safeParse(payload);
      if (!parsed.success) {
        const issues = parsed.error.issues
          .map((issue) => `${issue.path.map(String).join(".") || "(payload)"}: ${issue.message}`)
          .join("; ");
        return { ok: false, issues };
      }
      return { ok: true, payload: upcast === undefined ? parsed.data : upcast(parsed.data) };
    },
  };
}

/**
 * Checks of a decoded message beyond its payload schema (e.g. the envelope's aggregate id against
 * the payload's): a reason makes the message poison.
 */
export type MessageChecks<D extends MessageVersions> = {
  [K in keyof D & string]?: (message: MessageOf<D, K>) => string | undefined;
};

/** One handler per declared type; `tx` is the service's transaction (or unit of work). */
export type MessageHandlers<D extends MessageVersions, Tx, R, Ctx = void> = {
  [K in keyof D & string]: (message: MessageOf<D, K>, tx: Tx, context: Ctx) => Promise<R> | R;
};

/** `Type@version`, as the reasons and `supported` write it. */
export function messageKey(type: string, version: number): string {
  return `${type}@${version}`;
}

/** The message types a service reads: decodes envelopes, and makes a handler registry per consumer group. */
export class MessageTypes<D extends MessageVersions> {
  /** "A@1, A@2, B@1": every (type, version) read, for reasons and docs. */
  readonly supported: string;
  /** The declared type names. */
  readonly names: readonly (keyof D & string)[];
  private readonly checks: MessageChecks<D>;

  constructor(
    private readonly versions: D,
    checks: MessageChecks<D> = {},
  ) {
    for (const [type, byVersion] of Object.entries(versions)) {
      const numbers = Object.keys(byVersion);
      if (type.trim() === "") throw new Error("message types: a type name must not be empty");
      if (numbers.length === 0) throw new Error(`message type ${type}: declare at least one version`);
      const bad = numbers.find((v) => !/^[1-9]\d*$/.test(v));
      if (bad !== undefined)
        throw new Error(`message type ${type}: version ${bad} is not a positive integer`);
    }
    const unknown = Object.keys(checks).filter((type) => !Object.hasOwn(versions, type));
    if (unknown.length > 0) throw new Error(`message checks for undeclared types: ${unknown.join(", ")}`);
    this.checks = checks;
    this.names = Object.keys(versions);
    this.supported = Object.entries(versions)
      .flatMap(([type, byVersion]) => Object.keys(byVersion).map((v) => messageKey(type, Number(v))))
      .join(", ");
  }

  /** Whether the type is declared (any version). */
  has(type: string): boolean {
    return Object.hasOwn(this.versions, type);
  }

  /** Looks the type and version up, reads the payload, runs the type's check. Pure, never throws. */
  decode(envelope: IncomingEnvelope): DecodeResult<MessageOf<D>> {
    const { messageId, type, version, aggregateId, payload } = envelope;
    const poison = (reason: string): DecodeResult<MessageOf<D>> => ({ ok: false, reason, messageId });
    const key = messageKey(type, version);
    if (!this.has(type)) return poison(`unknown event type ${type} (supported: ${this.supported})`);
    const byVersion: Readonly<Record<number, MessageVersion<unknown>>> = this.versions[type as keyof D] ?? {};
    const reader = Object.hasOwn(byVersion, version) ? byVersion[version] : undefined;
    if (reader === undefined) return poison(`unknown event version ${key} (supported: ${this.supported})`);
    // A reader or check that throws fails on this payload every time: poison, like an invalid one.
    let read: ReturnType<MessageVersion<unknown>["read"]>;
    try {
      read = reader.read(payload);
    } catch (error) {
      return poison(`could not read ${key} payload: ${errorMessage(error)}`);
    }
    if (!read.ok) return poison(`invalid ${key} payload: ${read.issues}`);
    const message = { messageId, type, version, aggregateId, payload: read.payload } as MessageOf<D>;
    const check = this.checks[type as keyof D & string];
    let problem: string | undefined;
    try {
      problem = check?.(message);
    } catch (error) {
      problem = `check of ${key} failed: ${errorMessage(error)}`;
    }
    return problem === undefined ? { ok: true, message } : poison(problem);
  }

  /** readEnvelope, then decode: an AMQP message to a typed message, or why it is poison. */
  read(amqpMessage: Message): DecodeResult<MessageOf<D>> {
    const envelope = readEnvelope(amqpMessage);
    return envelope.ok ? this.decode(envelope.envelope) : envelope;
  }

  /**
   * The handler registry of one consumer group: a handler for every declared type (a missing one
   * is a compile error, and a runtime error for untyped callers).
   */
  registry<Tx, R, Ctx = void>(handlers: MessageHandlers<D, Tx, R, Ctx>): HandlerRegistry<D, Tx, R, Ctx> {
    return new HandlerRegistry(this, handlers);
  }
}

/** Declares the message types a service reads (see MessageTypes). */
export function defineMessageTypes<D extends MessageVersions>(
  versions: D,
  checks?: MessageChecks<D>,
): MessageTypes<D> {
  return new MessageTypes(versions, checks);
}

/** A consumer group's handlers by message type. */
export class HandlerRegistry<D extends MessageVersions, Tx, R, Ctx = void> {
  constructor(
    readonly types: MessageTypes<D>,
    private readonly handlers: MessageHandlers<D, Tx, R, Ctx>,
  ) {
    const declared = Object.keys(handlers);
    const missing = types.names.filter((type) => !Object.hasOwn(handlers, type));
    if (missing.length > 0) throw new Error(`no handler for message types: ${missing.join(", ")}`);
    const extra = declared.filter((type) => !types.has(type));
    if (extra.length > 0) throw new Error(`handlers for undeclared message types: ${extra.join(", ")}`);
    for (const type of declared) {
      if (typeof (handlers as Record<string, unknown>)[type] !== "function") {
        throw new Error(`the handler for ${type} is not a function`);
      }
    }
  }

  /**
   * Runs the message's handler with the service's transaction and context. A handler's error is
   * rethrown as it is, so that it rolls the transaction back and the service classifies it
   * (transient or poison). A message of a type without a handler (only reachable by bypassing the
   * types) throws.
   */
  async handle(message: MessageOf<D>, tx: Tx, context: Ctx): Promise<R> {
    const type: string = message.type;
    if (!this.types.has(type)) throw new Error(`no handler for message type ${type}`);
    const handler = this.handlers[type as keyof D & string];
    return handler(message, tx, context);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
