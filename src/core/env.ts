/**
 * The one module that touches the real clock, timers and randomness. Everything else receives
 * an {@link Env}, so the deterministic simulator can substitute a virtual clock and seeded rng.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
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
    nowMs: () => Date.now(),
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

/** Resolves after `delayMs` on `env`'s timers (virtual time in the simulator). */
export function sleep(env: Env, delayMs: number): Promise<void> {
  return new Promise((resolve) => env.setTimer(delayMs, resolve));
}

/**
 * Runs `fn` every `intervalMs` on `env`'s timers until the returned function is called. The
 * next run is scheduled after `fn` returns, so a slow `fn` never piles runs up.
 */
export function repeatEvery(env: Env, intervalMs: number, fn: () => void): CancelTimer {
  let cancelled = false;
  let cancel: CancelTimer = () => {};
  const tick = () => {
    if (cancelled) return;
    fn();
    if (!cancelled) cancel = env.setTimer(intervalMs, tick);
  };
  cancel = env.setTimer(intervalMs, tick);
  return () => {
    cancelled = true;
    cancel();
  };
}

/**
 * Resolves once every promise callback queued so far has run (one turn of the event loop). The
 * simulator's virtual clock (src/sim/scheduler.ts) waits on it between two virtual timers: it
 * reads no time and orders nothing by time, but it is the real event loop, so it lives here.
 */
export function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
