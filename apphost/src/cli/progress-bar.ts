import type { DownloadProgress } from "../artemis/distribution.js";

/** 1536 -> "1.5 KB"; binary units, as download tools show them. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** 75 -> "1m15s"; "--" when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "--";
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  return `${minutes}m${String(whole % 60).padStart(2, "0")}s`;
}

/**
 * One download's bar: "Artemis 2.56.0 [#####-----] 45%  30.1 MB / 66.0 MB  5.2 MB/s  7s left".
 * The rate is measured over the whole download so far (steady enough for a 1-minute download).
 * Maven reports no bytes: then the line says it is working and for how long.
 */
export class ProgressBar {
  private startedAt: number | undefined;

  constructor(
    private readonly width = 24,
    private readonly now: () => number = Date.now,
  ) {}

  render(event: DownloadProgress): string {
    this.startedAt ??= this.now();
    const elapsed = (this.now() - this.startedAt) / 1000;
    if (event.via === "maven" && !event.done)
      return `${event.what}: downloading with Maven (${formatDuration(elapsed)}; details in the broker log)`;
    const rate = elapsed > 0 ? event.receivedBytes / elapsed : 0;
    const rateText = rate > 0 ? `${formatBytes(rate)}/s` : "-- /s";
    const total = event.totalBytes;
    if (event.done)
      return `${event.what}: downloaded ${formatBytes(event.receivedBytes)} in ${formatDuration(elapsed)} (${rateText})`;
    if (total === undefined || total <= 0)
      return `${event.what}: ${formatBytes(event.receivedBytes)}  ${rateText}`;
    const fraction = Math.min(1, event.receivedBytes / total);
    const filled = Math.round(fraction * this.width);
    const left = rate > 0 ? (total - event.receivedBytes) / rate : undefined;
    return (
      `${event.what} [${"#".repeat(filled)}${"-".repeat(this.width - filled)}] ` +
      `${String(Math.floor(fraction * 100)).padStart(3)}%  ` +
      `${formatBytes(event.receivedBytes)} / ${formatBytes(total)}  ${rateText}  ${formatDuration(left)} left`
    );
  }
}
