/**
 * Thrown by a handler, before it wrote anything, when the message cannot be applied yet (e.g. its
 * predecessor has not arrived): the message is retried after the broker's redelivery delay and
 * counts an attempt, while the rest of its batch commits. The handler must not have written: its
 * transaction is shared with the batch and is not rolled back for it.
 */
export class RetryLaterError extends Error {
  override name = "RetryLaterError";
}
