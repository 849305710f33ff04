/**
 * rhea writes the dispositions of deliveries settled in one tick (everything settled before its
 * process.nextTick flush) as ranges of consecutive delivery ids, and gives a range the FIRST
 * delivery's outcome, comparing outcomes only from the range's third delivery on: an accept and a
 * reject settled together would become one outcome (the poison accepted and dropped, or a committed
 * message dead-lettered). So accepts may settle together, at once; every other outcome goes through
 * here and is settled alone, in a tick of its own (Node flushes process.nextTick work between two
 * setImmediate callbacks).
 *
 * @returns once `settle` ran
 */
export function settleAlone(settle: () => void): Promise<void> {
  return new Promise((resolve) => {
    setImmediate(() => {
      settle();
      resolve();
    });
  });
}
