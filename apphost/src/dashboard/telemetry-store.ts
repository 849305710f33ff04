import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { LogRecord, MetricPoint, SpanRecord } from "./otlp-json.js";

export type SignalKind = "spans" | "logs" | "metrics";

interface RecordOf {
  spans: SpanRecord;
  logs: LogRecord;
  metrics: MetricPoint;
}

export interface TelemetryStoreOptions {
  /** `.apphost/telemetry`; omit to keep everything in memory only. */
  directory?: string;
  /** Records kept in memory per service and signal. */
  maxPerService?: Partial<Record<SignalKind, number>>;
  /** A segment file is closed once it reaches this size... */
  segmentBytes?: number;
  /** ...and only the newest this many segments per signal are kept on disk. */
  maxSegments?: number;
  /** Distinct service names kept; records of further services are rejected (default 64). */
  maxServices?: number;
  /** Approximate bytes of records kept in memory; the oldest go first beyond it (default 256 MiB). */
  maxBytes?: number;
}

/** What `add` kept and what it refused (records of services beyond `maxServices`). */
export interface AddResult {
  accepted: number;
  rejected: number;
}

export interface TraceSummary {
  traceId: string;
  name: string;
  rootService: string;
  services: string[];
  startMs: number;
  durationMs: number;
  spanCount: number;
  error: boolean;
}

export interface TraceQuery {
  service?: string;
  errorOnly?: boolean;
  minDurationMs?: number;
  text?: string;
  limit?: number;
}

export interface LogQuery {
  service?: string;
  /** Minimum severity number (OTLP scale: 9 info, 13 warn, 17 error). */
  minSeverity?: number;
  text?: string;
  traceId?: string;
  limit?: number;
}

const DEFAULT_MAX: Record<SignalKind, number> = { spans: 20_000, logs: 20_000, metrics: 50_000 };
const KINDS: SignalKind[] = ["spans", "logs", "metrics"];

/**
 * What the dashboard knows about traces, logs and metrics: a bounded ring per service and signal in
 * memory, mirrored to append-only JSONL segments under `.apphost/telemetry/` so that an AppHost
 * restart starts with the recent past. Disk use is capped by segment size × segment count.
 */
export class TelemetryStore {
  private readonly rings: { [K in SignalKind]: Map<string, RecordOf[K][]> } = {
    spans: new Map(),
    logs: new Map(),
    metrics: new Map(),
  };
  private readonly max: Record<SignalKind, number>;
  private readonly segmentBytes: number;
  private readonly maxSegments: number;
  private readonly segments: Record<SignalKind, { index: number; bytes: number }> = {
    spans: { index: 0, bytes: 0 },
    logs: { index: 0, bytes: 0 },
    metrics: { index: 0, bytes: 0 },
  };
  readonly maxServices: number;
  private readonly maxBytes: number;
  /** Approximate size of every record in memory (its JSON length). */
  private readonly sizes = new WeakMap<object, number>();
  private bytes = 0;
  private writes: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(kind: SignalKind, count: number) => void>();

  constructor(private readonly options: TelemetryStoreOptions = {}) {
    this.max = { ...DEFAULT_MAX, ...options.maxPerService };
    this.segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
    this.maxSegments = Math.max(1, options.maxSegments ?? 4);
    this.maxServices = options.maxServices ?? 64;
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  }

  /** Approximate bytes of the records held in memory. */
  get memoryBytes(): number {
    return this.bytes;
  }

  /** Reads what earlier runs persisted (oldest segment first) into memory. */
  async load(): Promise<void> {
    const directory = this.options.directory;
    if (!directory) return;
    await fsp.mkdir(directory, { recursive: true, mode: 0o700 });
    for (const kind of KINDS) {
      const indexes = await this.segmentIndexes(kind);
      for (const index of indexes) {
        const text = await fsp.readFile(this.segmentPath(kind, index), "utf8").catch(() => "");
        for (const line of text.split("\n")) {
          if (line === "") continue;
          try {
            const record = JSON.parse(line) as RecordOf[typeof kind];
            if (this.services().length < this.maxServices || this.rings[kind].has(record.service))
              this.remember(kind, record, line.length);
          } catch {
            // A line torn by a crash mid-append: skip it, keep the rest.
          }
        }
      }
      const last = indexes.at(-1);
      if (last !== undefined) {
        const size = await fsp.stat(this.segmentPath(kind, last)).then(
          (s) => s.size,
          () => 0,
        );
        this.segments[kind] = { index: last, bytes: size };
      }
    }
  }

  add<K extends SignalKind>(kind: K, records: RecordOf[K][]): AddResult {
    const known = new Set(this.services());
    const accepted = records.filter((record) => {
      if (known.has(record.service)) return true;
      if (known.size >= this.maxServices) return false;
      known.add(record.service);
      return true;
    });
    const result = { accepted: accepted.length, rejected: records.length - accepted.length };
    if (accepted.length === 0) return result;
    const lines = accepted.map((record) => JSON.stringify(record));
    accepted.forEach((record, i) => this.remember(kind, record, lines[i]?.length));
    for (const listener of this.listeners) listener(kind, accepted.length);
    if (this.options.directory) this.persist(kind, `${lines.join("\n")}\n`);
    return result;
  }

  onAdd(listener: (kind: SignalKind, count: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when everything added so far is on disk. */
  flush(): Promise<void> {
    return this.writes;
  }

  count(kind: SignalKind): number {
    let total = 0;
    for (const ring of this.rings[kind].values()) total += ring.length;
    return total;
  }

  services(): string[] {
    const names = new Set<string>();
    for (const kind of KINDS) for (const name of this.rings[kind].keys()) names.add(name);
    return [...names].sort();
  }

  traces(query: TraceQuery = {}): TraceSummary[] {
    const byTrace = new Map<string, SpanRecord[]>();
    for (const ring of this.rings.spans.values())
      for (const span of ring) {
        const list = byTrace.get(span.traceId);
        if (list) list.push(span);
        else byTrace.set(span.traceId, [span]);
      }
    const text = query.text?.toLowerCase();
    const summaries: TraceSummary[] = [];
    for (const [traceId, spans] of byTrace) {
      const summary = summarise(traceId, spans);
      if (query.service && !summary.services.includes(query.service)) continue;
      if (query.errorOnly && !summary.error) continue;
      if (query.minDurationMs !== undefined && summary.durationMs < query.minDurationMs) continue;
      if (text && !spans.some((s) => s.name.toLowerCase().includes(text) || s.traceId === text)) continue;
      summaries.push(summary);
    }
    summaries.sort((a, b) => b.startMs - a.startMs);
    return summaries.slice(0, query.limit ?? 200);
  }

  trace(traceId: string): SpanRecord[] {
    const spans: SpanRecord[] = [];
    for (const ring of this.rings.spans.values())
      for (const span of ring) if (span.traceId === traceId) spans.push(span);
    return spans.sort((a, b) => a.startMs - b.startMs);
  }

  logs(query: LogQuery = {}): LogRecord[] {
    const text = query.text?.toLowerCase();
    const result: LogRecord[] = [];
    for (const [service, ring] of this.rings.logs) {
      if (query.service && service !== query.service) continue;
      for (const log of ring) {
        if (query.minSeverity !== undefined && log.severityNumber < query.minSeverity) continue;
        if (query.traceId && log.traceId !== query.traceId) continue;
        if (
          text &&
          !log.body.toLowerCase().includes(text) &&
          !JSON.stringify(log.attributes).toLowerCase().includes(text)
        )
          continue;
        result.push(log);
      }
    }
    result.sort((a, b) => b.timeMs - a.timeMs);
    return result.slice(0, query.limit ?? 500);
  }

  /** The newest point of every metric stream (name + attributes) per service. */
  latestMetrics(service?: string): MetricPoint[] {
    const latest = new Map<string, MetricPoint>();
    for (const [name, ring] of this.rings.metrics) {
      if (service && name !== service) continue;
      for (const point of ring) {
        const key = `${point.service}|${point.name}|${JSON.stringify(point.attributes)}`;
        const seen = latest.get(key);
        if (!seen || seen.timeMs <= point.timeMs) latest.set(key, point);
      }
    }
    return [...latest.values()].sort((a, b) =>
      `${a.service}${a.name}`.localeCompare(`${b.service}${b.name}`),
    );
  }

  metricSeries(service: string, name: string, limit = 300, sinceMs = 0): MetricPoint[] {
    const ring = this.rings.metrics.get(service) ?? [];
    return ring.filter((p) => p.name === name && p.timeMs >= sinceMs).slice(-limit);
  }

  /** Trace ids of spans whose attribute `key` equals `value` (a message id → its traces), newest first. */
  traceIdsWhere(key: string, value: string): string[] {
    const found = new Map<string, number>();
    for (const ring of this.rings.spans.values())
      for (const span of ring)
        if (span.attributes[key] === value)
          found.set(span.traceId, Math.max(found.get(span.traceId) ?? 0, span.startMs));
    return [...found].sort((a, b) => b[1] - a[1]).map(([id]) => id);
  }

  /** Every record of one signal held in memory (telemetry export). */
  records<K extends SignalKind>(kind: K): RecordOf[K][] {
    const rings = this.rings[kind] as Map<string, RecordOf[K][]>;
    return [...rings.values()].flat();
  }

  private remember<K extends SignalKind>(
    kind: K,
    record: RecordOf[K],
    size = JSON.stringify(record).length,
  ): void {
    const rings = this.rings[kind] as Map<string, RecordOf[K][]>;
    const service = record.service;
    let ring = rings.get(service);
    if (!ring) {
      ring = [];
      rings.set(service, ring);
    }
    ring.push(record);
    this.sizes.set(record, size);
    this.bytes += size;
    // Drop in chunks: splicing one element per insert would make a full ring O(n) per record.
    const cap = this.max[kind];
    if (ring.length > cap + Math.max(1, Math.floor(cap / 10))) this.drop(ring, ring.length - cap);
    if (this.bytes > this.maxBytes) this.evictOldest();
  }

  private drop(ring: object[], count: number): void {
    for (const record of ring.splice(0, count)) this.bytes -= this.sizes.get(record) ?? 0;
  }

  /** Over the memory budget: drops the oldest tenth of the largest rings until back under 90 %. */
  private evictOldest(): void {
    const target = this.maxBytes * 0.9;
    while (this.bytes > target) {
      let largest: object[] | undefined;
      for (const kind of KINDS)
        for (const ring of this.rings[kind].values())
          if (!largest || ring.length > largest.length) largest = ring;
      if (!largest || largest.length === 0) return;
      this.drop(largest, Math.max(1, Math.ceil(largest.length / 10)));
    }
  }

  private persist(kind: SignalKind, text: string): void {
    this.writes = this.writes
      .then(async () => {
        const segment = this.segments[kind];
        if (segment.bytes > 0 && segment.bytes + text.length > this.segmentBytes) {
          segment.index += 1;
          segment.bytes = 0;
          await this.dropOldSegments(kind, segment.index);
        }
        // mkdir each time: `--fresh` wipes the state directory after the store was loaded.
        await fsp.mkdir(this.options.directory ?? "", { recursive: true, mode: 0o700 });
        await fsp.appendFile(this.segmentPath(kind, segment.index), text, { mode: 0o600 });
        segment.bytes += Buffer.byteLength(text);
      })
      .catch((error: Error) => {
        // Telemetry on disk is a convenience: a full disk must not stop the intake.
        process.stderr.write(`apphost | telemetry not persisted: ${error.message}\n`);
      });
  }

  private async dropOldSegments(kind: SignalKind, current: number): Promise<void> {
    for (const index of await this.segmentIndexes(kind))
      if (index <= current - this.maxSegments) await fsp.rm(this.segmentPath(kind, index), { force: true });
  }

  private async segmentIndexes(kind: SignalKind): Promise<number[]> {
    const directory = this.options.directory;
    if (!directory || !fs.existsSync(directory)) return [];
    const pattern = new RegExp(`^${kind}-(\\d+)\\.jsonl$`);
    return (await fsp.readdir(directory))
      .flatMap((name) => {
        const match = pattern.exec(name);
        return match ? [Number(match[1])] : [];
      })
      .sort((a, b) => a - b);
  }

  private segmentPath(kind: SignalKind, index: number): string {
    return path.join(this.options.directory ?? "", `${kind}-${String(index).padStart(6, "0")}.jsonl`);
  }
}

function summarise(traceId: string, spans: SpanRecord[]): TraceSummary {
  const ids = new Set(spans.map((s) => s.spanId));
  // The root is the span without a parent, or (when the root hasn't arrived yet) the earliest orphan.
  const roots = spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
  const root = roots.reduce((a, b) =>
    !a.parentSpanId && b.parentSpanId ? a : a.startMs <= b.startMs ? a : b,
  );
  const start = Math.min(...spans.map((s) => s.startMs));
  const end = Math.max(...spans.map((s) => s.endMs));
  return {
    traceId,
    name: root.name,
    rootService: root.service,
    services: [...new Set(spans.map((s) => s.service))].sort(),
    startMs: start,
    durationMs: end - start,
    spanCount: spans.length,
    error: spans.some((s) => s.error),
  };
}
