/**
 * The chaos harness's process faults, applied from outside: {@link faultyEnv} shifts an Env's
 * wall clock, {@link delayedLink} delays a Link's outbound frames, and {@link watchFaultControl}
 * re-reads a small JSON control file so the harness can change both while the process runs.
 * Production code never sees any of this: the `quorate chaos process` entry (src/cli) wraps the
 * Env and the links of a normal coordinator or party with these.
 */
import { readFileSync } from 'node:fs';
import { repeatEvery, type CancelTimer, type Env } from '../core/env.ts';
import { faultLimits } from '../core/limits.ts';
import type { Link } from '../transport/link.ts';

/** One process's fault setting: outbound latency ± jitter and a wall-clock offset. */
export interface FaultState {
  latencyMs: number;
  jitterMs: number;
  clockOffsetMs: number;
}

/** No fault at all. */
export const noFaults: FaultState = { latencyMs: 0, jitterMs: 0, clockOffsetMs: 0 };

function clampNumber(value: unknown, max: number, min: number): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return Math.min(max, Math.max(min, value));
}

/** Parses a fault setting; anything invalid counts as unset (`base`), out of range is clamped. */
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads a control file `{latencyMs?, jitterMs?, clockOffsetMs?}`: what it omits is zero. A
 * missing, oversized, half-written or malformed file keeps `last` (the last good setting).
 */
export function readFaultControlFile(path: string, last: FaultState): FaultState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return last;
  }
  if (text.length > faultLimits.controlFileBytesMax) return last;
  try {
    const raw: unknown = JSON.parse(text);
    return isRecord(raw) ? parseFaultState(raw, noFaults) : last;
  } catch {
    return last;
  }
}

/** The live setting of one process, kept current from its control file. */
export interface FaultControl {
  current(): FaultState;
  /** Stops polling (the process is stopping). */
  stop(): void;
}

/**
 * Starts from `initial`, then (with a `path`) reads the control file at once and every
 * `faultLimits.controlFilePollMs` on `env`'s timers. The bounds (faultLimits) keep a bad
 * control file from stalling a process for long.
 */
export function watchFaultControl(
  env: Env,
  path: string | undefined,
  initial: FaultState,
): FaultControl {
  if (path === undefined) return { current: () => initial, stop: () => {} };
  let state = readFaultControlFile(path, initial);
  const cancel: CancelTimer = repeatEvery(env, faultLimits.controlFilePollMs, () => {
    state = readFaultControlFile(path, state);
  });
  return { current: () => state, stop: cancel };
}

/**
 * `env` with its wall clock shifted by the current clock offset. The monotonic clock, timers
 * and randomness are untouched: only what a wrong system clock would change moves.
 */
export function faultyEnv(env: Env, faults: () => FaultState): Env {
  return {
    nowMs: () => env.nowMs() + faults().clockOffsetMs,
    monoMs: () => env.monoMs(),
    setTimer: (delayMs, fn) => env.setTimer(delayMs, fn),
    randomBytes: (length) => env.randomBytes(length),
    log: env.log,
  };
}

/** A uniform draw in [-1, 1) from `env`'s randomness (32 bits are plenty for jitter). */
function signedUnit(env: Env): number {
  const bytes = env.randomBytes(4);
  const unit = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) / 2 ** 32;
  return unit * 2 - 1;
}

/**
 * `link` with every outbound frame delayed by the current latency ± jitter, in order (as on a
 * TCP stream): a frame is due at `now + latency + U(-jitter, +jitter)` on the monotonic clock,
 * and leaves once it is due and every frame queued before it has left. With no latency and
 * nothing queued a frame goes at once. More than `framesMax` queued frames close the link, as
 * a full socket buffer would.
 */
export function delayedLink(
  link: Link,
  env: Env,
  faults: () => FaultState,
  framesMax: number,
): Link {
  const queue: { releaseMs: number; frame: unknown }[] = [];
  let cancelTimer: CancelTimer | undefined;
  const clear = () => {
    queue.length = 0;
    cancelTimer?.();
    cancelTimer = undefined;
  };
  const drain = () => {
    cancelTimer = undefined;
    const now = env.monoMs();
    for (let head = queue[0]; head !== undefined && head.releaseMs <= now; head = queue[0]) {
      queue.shift();
      link.send(head.frame);
    }
    const next = queue[0];
    if (next !== undefined) cancelTimer = env.setTimer(next.releaseMs - now, drain);
  };
  const enqueue = (frame: unknown, latencyMs: number, jitterMs: number) => {
    const now = env.monoMs();
    const releaseMs = now + Math.max(0, latencyMs + signedUnit(env) * jitterMs);
    // A copy: the sender may reuse its object before the frame is released.
    queue.push({ releaseMs, frame: structuredClone(frame) });
    cancelTimer ??= env.setTimer(releaseMs - now, drain);
  };
  link.onClose(clear);
  return {
    get isOpen() {
      return link.isOpen;
    },
    send(frame) {
      if (!link.isOpen) return;
      const { latencyMs, jitterMs } = faults();
      if (queue.length === 0 && latencyMs === 0 && jitterMs === 0) link.send(frame);
      else if (queue.length < framesMax) enqueue(frame, latencyMs, jitterMs);
      else {
        clear();
        link.close('outbound delay queue overflow');
      }
    },
    close(reason) {
      clear();
      link.close(reason);
    },
    onFrame: (handler) => link.onFrame(handler),
    onClose: (handler) => link.onClose(handler),
  };
}
