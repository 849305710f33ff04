/**
 * The broker cannot be reached, or did not answer in time: callers should retry later (the admin
 * routes answer 503), it is not a bug.
 */
export class BrokerUnavailableError extends Error {
  override name = "BrokerUnavailableError";
}
