// The outbox services' custom commands (`withCommand`): buttons on the Resources page and
// `apphost command`, each a POST to the service's own admin API with its injected admin token.

import type { CommandContext, CommandHandler } from "../model/commands.js";

/** POSTs to the service's own admin API and returns the JSON answer; a non-2xx answer fails the command. */
async function post(context: CommandContext, pathname: string): Promise<unknown> {
  const base = context.endpoints.http;
  if (!base) throw new Error(`${context.resource} has no HTTP endpoint`);
  // Admin routes: the service's own injected admin token.
  const token = context.environment.ADMIN_TOKEN;
  const response = await fetch(base + pathname, {
    method: "POST",
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: context.signal,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${pathname}: ${response.status} ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as unknown) : {};
}

/** "Replay dead letters": every group's dead-letter queue back to its group's queue (the receiver's API). */
export function replayDeadLetters(groups: string[]): CommandHandler {
  return async (context) => {
    const parts: string[] = [];
    for (const group of groups) {
      const body = (await post(context, `/api/DeadLetters/replay?group=${encodeURIComponent(group)}`)) as {
        replayed?: number;
      };
      parts.push(`${body.replayed ?? 0} to ${group}`);
    }
    return { message: `replayed ${parts.join(", ")}` };
  };
}

/** "Replay receipt dead letters": the sender's receipts DLQ back to the receipts queue. */
export function replayReceiptDeadLetters(): CommandHandler {
  return async (context) => {
    const body = (await post(context, "/api/outbox/receipt-dead-letters/replay")) as { replayed?: number };
    return { message: `replayed ${body.replayed ?? 0} receipts` };
  };
}

/** "Purge published outbox rows": the sender deletes finished rows now instead of after the retention period. */
export function purgePublishedOutboxRows(): CommandHandler {
  return async (context) => {
    const body = (await post(context, "/api/outbox/published/purge")) as {
      deleted?: number;
      lockedOut?: boolean;
    };
    return {
      message: `deleted ${body.deleted ?? 0} rows${body.lockedOut ? " (another instance was purging: run again)" : ""}`,
    };
  };
}
