/**
 * The transport's (source, group) for a configured queue. The AppHost names a group's queue
 * `<topic>.<group>` (RECEIVER_QUEUE, AUDIT_QUEUE): that is the source `<topic>` read as `<group>`.
 * Any other queue name is read as it is, as a fully qualified `queue::queue` (its address and queue
 * share the name, as the AppHost declares them).
 */
export function consumerSource(queue: string, group: string): { source: string } {
  const suffix = `.${group}`;
  if (queue.endsWith(suffix) && queue.length > suffix.length)
    return { source: queue.slice(0, -suffix.length) };
  return { source: queue.includes("::") ? queue : `${queue}::${queue}` };
}
