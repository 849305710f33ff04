import { ProtocolError, TimeoutError, NetworkError, MultipleErrors } from "@platformatic/kafka";
import { describe, expect, it } from "vitest";
import { brokerAnswered, outcomeOfSendError } from "./publish-outcome.js";

describe("outcomeOfSendError", () => {
  it("answers rejected for what no resend can cure, found anywhere in the error tree", () => {
    expect(outcomeOfSendError(new ProtocolError("MESSAGE_TOO_LARGE")).kind).toBe("rejected");
    const nested = new MultipleErrors("Producing messages failed.", [
      new ProtocolError("TOPIC_AUTHORIZATION_FAILED"),
    ]);
    const outcome = outcomeOfSendError(nested);
    expect(outcome.kind).toBe("rejected");
    expect(outcome.kind === "rejected" ? outcome.reason : "").toMatch(/TOPIC_AUTHORIZATION_FAILED/);
    expect(outcomeOfSendError(new ProtocolError("UNKNOWN_TOPIC_OR_PARTITION")).kind).toBe("rejected");
  });

  it("answers unknown for timeouts, lost connections and retriable broker errors", () => {
    expect(outcomeOfSendError(new TimeoutError("Request timed out"))).toMatchObject({ kind: "unknown" });
    expect(outcomeOfSendError(new NetworkError("Connection closed"))).toMatchObject({ kind: "unknown" });
    expect(outcomeOfSendError(new ProtocolError("NOT_LEADER_OR_FOLLOWER"))).toMatchObject({
      kind: "unknown",
    });
    expect(outcomeOfSendError(new ProtocolError("NOT_ENOUGH_REPLICAS"))).toMatchObject({ kind: "unknown" });
  });

  it("tells a broker's answer from no answer at all", () => {
    expect(brokerAnswered(new ProtocolError("NOT_LEADER_OR_FOLLOWER"))).toBe(true);
    expect(brokerAnswered(new NetworkError("Connection refused"))).toBe(false);
  });
});
