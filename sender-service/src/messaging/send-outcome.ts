/** What became of one send, as far as this process knows. */
export type SendOutcome =
  /** The broker has the message durably (or already had it: duplicates are accepted too). */
  | { kind: "accepted" }
  /** The broker refused the message itself. */
  | { kind: "rejected"; reason: string }
  /** The broker did not take the message; sending it again is fine. */
  | { kind: "released" }
  | { kind: "modified"; deliveryFailed: boolean; undeliverableHere: boolean }
  /**
   * No outcome: connection lost, link detached, timed out, never sent. The broker may or may not
   * have the message; resending is safe because it drops duplicates by _AMQ_DUPL_ID.
   */
  | {
      kind: "unknown";
      reason: string;
      /** True when the message was never handed to the link: it cannot be on the broker. */
      notSent?: boolean;
    };
