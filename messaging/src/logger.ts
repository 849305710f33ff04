/**
 * One log method, in pino's two call shapes: fields then message, or a message alone. A pino
 * logger's methods take these and more, so a pino logger is a `Logger` as it is.
 */
export interface LogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

/**
 * What the library logs through. It is the subset of pino's `Logger` the library calls, so the
 * host passes its pino logger (or a child of it); any other logger fits behind a small adapter.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** A logger that adds `bindings` to every line (e.g. `{ component: "outbox-relay" }`). */
  child(bindings: Record<string, unknown>): Logger;
}
