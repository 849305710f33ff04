// ESC-introduced sequences: CSI (ESC [ … final byte), OSC/DCS/SOS/PM/APC strings (ESC ] … BEL or
// ESC \), and two-byte escapes (ESC + one character); then C1 controls (incl. the 8-bit CSI, 0x9b),
// and C0 controls except tab, and DEL.
const ESCAPE_SEQUENCE =
  // eslint-disable-next-line no-control-regex
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[\s\S]?|[\x80-\x9f]|[\x00-\x08\x0a-\x1f\x7f]/g;

/**
 * A service's output made safe for the AppHost's terminal: no colour codes, cursor moves, title
 * changes, hyperlinks, clipboard writes (OSC 52) or bells can reach it, whatever a service (or a
 * value it logs) prints. Visible text is kept; the log files keep the raw bytes.
 */
export function stripControlSequences(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, "");
}
