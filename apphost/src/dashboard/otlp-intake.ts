import type { IncomingMessage } from "node:http";
import { promisify } from "node:util";
import zlib from "node:zlib";

const gunzip = promisify(zlib.gunzip);

export interface OtlpIntakeLimits {
  /** Bytes of a request body as sent (compressed or not). */
  maxBodyBytes: number;
  /** Bytes of a body once gunzipped: a gzip bomb stops here. */
  maxDecompressedBytes: number;
  /** Bytes of all OTLP bodies being read, unzipped and parsed at once; beyond it: 429. */
  maxInFlightBytes: number;
}

export const DEFAULT_OTLP_INTAKE_LIMITS: OtlpIntakeLimits = {
  maxBodyBytes: 8 * 1024 * 1024,
  maxDecompressedBytes: 32 * 1024 * 1024,
  maxInFlightBytes: 96 * 1024 * 1024,
};

/** A refused OTLP request: status (400, 413, 415, 429) and, for 429, when to retry. */
export class OtlpRefusal extends Error {
  constructor(
    readonly status: 400 | 413 | 415 | 429,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/**
 * Reads OTLP request bodies within fixed bounds: one body's size before and after gunzip, and the
 * bytes held by all requests in progress. Refusals are OtlpRefusal (never anything else thrown at
 * the caller for a client's fault): 413 is final for that body, 429 tells the exporter to retry.
 */
export class OtlpIntake {
  private inFlight = 0;

  constructor(readonly limits: OtlpIntakeLimits = DEFAULT_OTLP_INTAKE_LIMITS) {}

  get bytesInFlight(): number {
    return this.inFlight;
  }

  /** The decoded body; `release` must be called once the caller is done with it. */
  async read(req: IncomingMessage): Promise<{ body: Buffer; release: () => void }> {
    const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
    if (encoding !== "gzip" && encoding !== "identity")
      throw new OtlpRefusal(415, `content-encoding "${encoding}" is not supported (use gzip or none)`);
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > this.limits.maxBodyBytes)
      throw tooLarge(`body of ${declared} bytes exceeds ${this.limits.maxBodyBytes}`);
    let held = 0;
    const hold = (bytes: number) => {
      if (this.inFlight + bytes > this.limits.maxInFlightBytes)
        throw new OtlpRefusal(429, "telemetry intake is busy; retry later", 1);
      this.inFlight += bytes;
      held += bytes;
    };
    const release = () => {
      this.inFlight -= held;
      held = 0;
    };
    try {
      hold(Number.isFinite(declared) && declared > 0 ? declared : this.limits.maxBodyBytes);
      const raw = await readLimited(req, this.limits.maxBodyBytes);
      if (encoding === "identity") return { body: raw, release };
      hold(this.limits.maxDecompressedBytes);
      const body = await gunzip(raw, { maxOutputLength: this.limits.maxDecompressedBytes }).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code === "ERR_BUFFER_TOO_LARGE" || error instanceof RangeError)
            throw tooLarge(`decompressed body exceeds ${this.limits.maxDecompressedBytes} bytes`);
          throw new OtlpRefusal(400, `body is not valid gzip: ${error.message}`);
        },
      );
      return { body, release };
    } catch (error) {
      release();
      throw error;
    }
  }
}

function tooLarge(message: string): OtlpRefusal {
  return new OtlpRefusal(413, message);
}

function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(tooLarge(`body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
    req.on("close", () => reject(new OtlpRefusal(413, "request aborted before its end")));
  });
}
