import { z } from "zod";
import { HttpProblem, integerParameter, problemResponseSchema } from "@outbox/service-defaults";
import { MAX_BROWSE } from "../transports/artemis/dead-letter-queue.js";
import { BrokerUnavailableError } from "../transports/artemis/management.js";

/** Path parameters of the routes that act on one dead letter: the broker's message id. */
export const deadLetterIdParams = z.object({
  id: integerParameter({ min: 0, max: Number.MAX_SAFE_INTEGER, description: "Broker message id" }),
});

/** `?limit=` of a dead-letter listing: 1..MAX_BROWSE, because the broker lists no more. */
export const deadLetterLimitParameter = integerParameter({
  min: 1,
  max: MAX_BROWSE,
  default: 100,
  description: `How many of the oldest dead letters to list (the broker lists at most ${MAX_BROWSE}; count is the total)`,
});

/** The documented 503 of every route that asks the broker. */
export const brokerUnavailableResponse = {
  description: "The broker cannot be reached; retry later",
  schema: problemResponseSchema,
};

/** Broker down or slow: the client should retry (503), it is not a bug (500). */
export function unavailableWhenBrokerIsDown(error: unknown): never {
  if (error instanceof BrokerUnavailableError) {
    throw new HttpProblem(503, "Service Unavailable", error.message);
  }
  throw error;
}

/** 404 when the broker found no such message in the queue (replay or delete answered false). */
export function expectDeadLetter(found: boolean, id: number, queue: string): void {
  if (!found) throw new HttpProblem(404, "Not Found", `No message ${id} in ${queue}`);
}
