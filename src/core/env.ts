/**
 * The one module that touches the real clock, timers and randomness. Everything else receives
 * an {@link Env}, so the deterministic simulator can substitute a virtual clock and seeded rng.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pino, type Logger as PinoLogger } from 'pino';

/** Structured logger: an object of fields plus a short message. Never pass secrets. */
export interface Log {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
  child(fields: Record<string, unknown>): Log;
}

/** Cancels a pending timer; calling it twice is harmless. */
export type CancelTimer = () => void;

/** Clock, timers, randomness and logging: the only window onto the outside world. */
export interface Env {
  /** Wall-clock milliseconds since the epoch (may jump; use for records, not for durations). */
  nowMs: () => number;
  /** Monotonic milliseconds (for durations and deadlines). */
  monoMs: () => number;
  /** Runs `fn` once after `delayMs` (monotonic). */
  setTimer: (delayMs: number, fn: () => void) => CancelTimer;
  /** Cryptographically secure random bytes (seeded in simulation). */
  randomBytes: (length: number) => Uint8Array;
  log: Log;
}

/** Options for the production {@link Env}. */
export interface RealEnvOptions {
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Fields bound to every log line, e.g. `{ role: 'party', partyId }`. */
  bindings?: Record<string, unknown>;
  /** Write logs to stderr (fd 2) instead of stdout, so `--json` output stays clean. */
  logToStderr?: boolean;
}

function wrapPino(logger: PinoLogger): Log {
  return {
    debug: (fields, msg) => logger.debug(fields, msg),
    info: (fields, msg) => logger.info(fields, msg),
    warn: (fields, msg) => logger.warn(fields, msg),
    error: (fields, msg) => logger.error(fields, msg),
    child: (fields) => wrapPino(logger.child(fields)),
  };
}

/** The production environment: real clock, real timers, OS randomness, pino JSON logs. */
export function realEnv(options: RealEnvOptions = {}): Env {
  const destination = pino.destination({ fd: options.logToStderr === false ? 1 : 2, sync: false });
  const logger = pino(
    {
      level: options.logLevel ?? 'info',
      base: options.bindings ?? {},
      redact: { paths: [], remove: true },
    },
    destination,
  );
  return {
    // The chaos harness may shift this process's wall clock (never the monotonic one).
    nowMs: () => Date.now() + faultState().clockOffsetMs,
    monoMs: () => performance.now(),
    setTimer: (delayMs, fn) => {
      const handle = setTimeout(fn, Math.max(0, delayMs));
      return () => clearTimeout(handle);
    },
    randomBytes: (length) => new Uint8Array(nodeRandomBytes(length)),
    log: wrapPino(logger),
  };
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLog: Log = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLog,
};

/**
 * Fault hooks for the chaos harness (src/chaos), off unless their environment variables are
 * set. `QUORATE_FAULT_LATENCY_MS` / `QUORATE_FAULT_JITTER_MS` delay every outbound WebSocket
 * frame of this process; `QUORATE_CLOCK_OFFSET_MS` shifts `realEnv().nowMs` (wall clock only).
 * `QUORATE_FAULT_CONTROL_FILE` names a JSON file `{latencyMs?, jitterMs?, clockOffsetMs?}`
 * re-read every {@link faultControlPollMs} ms, so the harness can change them at run time.
 */
export interface FaultState {
  latencyMs: number;
  jitterMs: number;
  clockOffsetMs: number;
}

/** Bounds on the fault hooks: a bad control file can never stall a process for long. */
export const faultLimits = {
  latencyMsMax: 10_000,
  jitterMsMax: 10_000,
  clockOffsetMsMax: 86_400_000,
  controlFileBytesMax: 4_096,
} as const;

/** How often the control file is re-read. */
export const faultControlPollMs = 200;

let faults: FaultState | undefined;

function clampNumber(value: unknown, max: number, min: number): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return Math.min(max, Math.max(min, value));
}

/** Parses a fault setting; anything invalid or out of range counts as unset (or clamped). */
export function parseFaultState(raw: Record<string, unknown>, base: FaultState): FaultState {
  return {
    latencyMs: clampNumber(raw['latencyMs'], faultLimits.latencyMsMax, 0) ?? base.latencyMs,
    jitterMs: clampNumber(raw['jitterMs'], faultLimits.jitterMsMax, 0) ?? base.jitterMs,
    clockOffsetMs:
      clampNumber(
        raw['clockOffsetMs'],
        faultLimits.clockOffsetMsMax,
        -faultLimits.clockOffsetMsMax,
      ) ?? base.clockOffsetMs,
  };
}

function faultsFromEnvironment(): FaultState {
  const num = (name: string): number | undefined => {
    const v = process.env[name];
    return v === undefined || v === '' ? undefined : Number(v);
  };
  return parseFaultState(
    {
      latencyMs: num('QUORATE_FAULT_LATENCY_MS'),
      jitterMs: num('QUORATE_FAULT_JITTER_MS'),
      clockOffsetMs: num('QUORATE_CLOCK_OFFSET_MS'),
    },
    { latencyMs: 0, jitterMs: 0, clockOffsetMs: 0 },
  );
}

function readControlFile(path: string, base: FaultState): FaultState {
  try {
    const text = readFileSync(path, 'utf8');
    if (text.length > faultLimits.controlFileBytesMax) return base;
    const raw: unknown = JSON.parse(text);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return base;
    return parseFaultState(raw as Record<string, unknown>, {
      latencyMs: 0,
      jitterMs: 0,
      clockOffsetMs: 0,
    });
  } catch {
    return base; // Missing or half-written file: keep the last good setting.
  }
}

/** The current fault setting of this process (all zero unless the chaos harness set one). */
export function faultState(): FaultState {
  if (faults !== undefined) return faults;
  faults = faultsFromEnvironment();
  const controlFile = process.env['QUORATE_FAULT_CONTROL_FILE'];
  if (controlFile !== undefined && controlFile !== '') {
    faults = readControlFile(controlFile, faults);
    setInterval(() => {
      faults = readControlFile(controlFile, faults ?? faultsFromEnvironment());
    }, faultControlPollMs).unref();
  }
  return faults;
}

/** An order-preserving outbound queue that delays each frame by the current latency ± jitter. */
export interface OutboundDelay {
  /** Runs `send` now (no latency set and nothing queued) or later, after earlier frames. False if full. */
  push(send: () => void): boolean;
  /** Drops everything queued (the link closed). */
  clear(): void;
}

/**
 * One queue per link. Each frame's release time is `now + latency + U(-jitter, +jitter)`,
 * but never before the previous frame's, so frames stay in order (as on a TCP stream).
 */
export function outboundDelay(framesMax: number): OutboundDelay {
  const queue: { releaseMs: number; send: () => void }[] = [];
  let lastReleaseMs = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const drain = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && (queue[0]?.releaseMs ?? Infinity) <= now) queue.shift()?.send();
    const head = queue[0];
    if (head) timer = setTimeout(drain, Math.max(0, head.releaseMs - now));
  };
  return {
    push(send) {
      const { latencyMs, jitterMs } = faultState();
      if (queue.length === 0 && latencyMs === 0 && jitterMs === 0) {
        send();
        return true;
      }
      if (queue.length >= framesMax) return false;
      const now = performance.now();
      const delayMs = Math.max(0, latencyMs + (Math.random() * 2 - 1) * jitterMs);
      lastReleaseMs = Math.max(lastReleaseMs, now + delayMs);
      queue.push({ releaseMs: lastReleaseMs, send });
      timer ??= setTimeout(drain, Math.max(0, lastReleaseMs - now));
      return true;
    },
    clear() {
      queue.length = 0;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
