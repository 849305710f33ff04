/**
 * The AppHost's own console: whole lines, plus at most one "status" line (a progress bar) that is
 * redrawn in place on a terminal. A line printed while a status is shown clears it first and
 * redraws it below. Without a terminal, a status is printed only when it ends (logs stay clean).
 */
export class Terminal {
  private status: string | undefined;
  private lastDraw = 0;

  constructor(
    private readonly out:
      NodeJS.WriteStream | { write(text: string): boolean; isTTY?: boolean } = process.stdout,
    /** Redraws at most this often (a fast download emits thousands of chunks). */
    private readonly minIntervalMs = 100,
  ) {}

  get interactive(): boolean {
    return this.out.isTTY === true;
  }

  line(text: string): void {
    if (this.status !== undefined && this.interactive) {
      this.out.write(`\r\x1b[2K${text}\n${this.status}`);
      return;
    }
    this.out.write(`${text}\n`);
  }

  /** Shows (or replaces) the status line; `final` prints it as a normal line and forgets it. */
  setStatus(text: string, final = false): void {
    if (final) {
      if (this.interactive && this.status !== undefined) this.out.write(`\r\x1b[2K${text}\n`);
      else this.out.write(`${text}\n`);
      this.status = undefined;
      return;
    }
    this.status = text;
    if (!this.interactive) return;
    const now = Date.now();
    if (now - this.lastDraw < this.minIntervalMs) return;
    this.lastDraw = now;
    this.out.write(`\r\x1b[2K${text}`);
  }
}
