/**
 * The chaos fault layer (src/chaos/fault-layer.ts) on a virtual clock: the wall-clock offset
 * moves only `nowMs`, the delayed link keeps frame order, holds each frame for latency ± jitter
 * and is bounded, and the control file changes the setting while the process runs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { silentLog, type Env } from '../../src/core/env.ts';
import { faultLimits } from '../../src/core/limits.ts';
import {
  delayedLink,
  faultyEnv,
  noFaults,
  parseFaultState,
  watchFaultControl,
  type FaultState,
} from '../../src/chaos/fault-layer.ts';
import type { Link } from '../../src/transport/link.ts';

/** A manual clock: timers fire only inside `advance`, in time order. */
function virtualEnv(randomBytes: (length: number) => Uint8Array = (n) => new Uint8Array(n)) {
  let nowMs = 0;
  let seq = 0;
  const timers: { atMs: number; seq: number; fn: () => void; live: boolean }[] = [];
  const env: Env = {
    nowMs: () => 1_700_000_000_000 + nowMs,
    monoMs: () => nowMs,
    setTimer: (delayMs, fn) => {
      const timer = { atMs: nowMs + Math.max(0, delayMs), seq: seq++, fn, live: true };
      timers.push(timer);
      return () => {
        timer.live = false;
      };
    },
    randomBytes,
    log: silentLog,
  };
  const advance = (ms: number) => {
    const untilMs = nowMs + ms;
    for (let i = 0; i < 100_000; i++) {
      const due = timers
        .filter((t) => t.live && t.atMs <= untilMs)
        .sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)[0];
      if (due === undefined) break;
      due.live = false;
      nowMs = due.atMs;
      due.fn();
    }
    nowMs = untilMs;
  };
  return { env, advance, pending: () => timers.filter((t) => t.live).length };
}

/** A link that records what reaches it, and when. */
function recordingLink(env: Env) {
  const sent: { frame: unknown; atMs: number }[] = [];
  const closeHandlers: ((reason: string) => void)[] = [];
  let open = true;
  let closeReason: string | undefined;
  const link: Link = {
    get isOpen() {
      return open;
    },
    send: (frame) => {
      if (open) sent.push({ frame, atMs: env.monoMs() });
    },
    close: (reason) => {
      if (!open) return;
      open = false;
      closeReason = reason;
      for (const h of closeHandlers) h(reason);
    },
    onFrame: () => {},
    onClose: (handler) => closeHandlers.push(handler),
  };
  return { link, sent, closeReason: () => closeReason };
}

describe('parseFaultState', () => {
  test('clamps out-of-range values and keeps the base for anything that is not a number', () => {
    const base: FaultState = { latencyMs: 5, jitterMs: 6, clockOffsetMs: 7 };
    assert.deepEqual(
      parseFaultState({ latencyMs: 1e9, jitterMs: -3, clockOffsetMs: -1e12 }, base),
      {
        latencyMs: faultLimits.latencyMsMax,
        jitterMs: 0,
        clockOffsetMs: -faultLimits.clockOffsetMsMax,
      },
    );
    assert.deepEqual(
      parseFaultState({ latencyMs: '10', jitterMs: Number.NaN, clockOffsetMs: null }, base),
      base,
    );
  });
});

describe('faultyEnv', () => {
  test('shifts the wall clock by the current offset and leaves the monotonic clock alone', () => {
    const { env, advance } = virtualEnv();
    let faults: FaultState = { ...noFaults, clockOffsetMs: 30_000 };
    const shifted = faultyEnv(env, () => faults);
    assert.equal(shifted.nowMs(), env.nowMs() + 30_000);
    assert.equal(shifted.monoMs(), env.monoMs());
    faults = { ...noFaults, clockOffsetMs: -2_500 };
    advance(10);
    assert.equal(shifted.nowMs(), env.nowMs() - 2_500);
    assert.equal(shifted.monoMs(), 10);
    let fired = false;
    shifted.setTimer(5, () => (fired = true));
    advance(5);
    assert.ok(fired, 'timers run on the wrapped Env');
  });
});

describe('delayedLink', () => {
  test('without latency a frame goes at once and nothing is scheduled', () => {
    const { env, pending } = virtualEnv();
    const inner = recordingLink(env);
    const link = delayedLink(inner.link, env, () => noFaults, 8);
    link.send({ n: 1 });
    assert.deepEqual(inner.sent, [{ frame: { n: 1 }, atMs: 0 }]);
    assert.equal(pending(), 0);
  });

  test('holds each frame for the latency, in order, and uses the Env for the jitter draw', () => {
    let draws = 0;
    // 0xff… is the top of the jitter range, 0x00… the bottom.
    const bytes = [0xff, 0x00];
    const { env, advance } = virtualEnv((n) => new Uint8Array(n).fill(bytes[draws++ % 2] ?? 0));
    const inner = recordingLink(env);
    const link = delayedLink(
      inner.link,
      env,
      () => ({ ...noFaults, latencyMs: 100, jitterMs: 40 }),
      8,
    );
    link.send('a'); // released near 140
    link.send('b'); // drawn near 60, but never before 'a'
    advance(139);
    assert.equal(inner.sent.length, 0);
    advance(2);
    assert.deepEqual(
      inner.sent.map((s) => s.frame),
      ['a', 'b'],
    );
    assert.equal(draws, 2);
    const mutable = { v: 1 };
    link.send(mutable);
    mutable.v = 2;
    advance(200);
    assert.deepEqual(inner.sent[2]?.frame, { v: 1 }, 'the frame as it was sent');
  });

  test('more queued frames than the bound close the link; close drops what is queued', () => {
    const { env, advance } = virtualEnv();
    const inner = recordingLink(env);
    const link = delayedLink(inner.link, env, () => ({ ...noFaults, latencyMs: 50 }), 3);
    for (let i = 0; i < 3; i++) link.send(i);
    assert.ok(link.isOpen);
    link.send(3);
    assert.equal(link.isOpen, false);
    assert.equal(inner.closeReason(), 'outbound delay queue overflow');
    advance(100);
    assert.deepEqual(inner.sent, [], 'nothing queued is sent after the close');
    const other = recordingLink(env);
    const second = delayedLink(other.link, env, () => ({ ...noFaults, latencyMs: 50 }), 3);
    second.send('x');
    second.close('bye');
    advance(100);
    assert.deepEqual(other.sent, []);
    assert.equal(other.closeReason(), 'bye');
  });

  test('property: frames arrive in send order, each within latency ± jitter of its send', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 500 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 30 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (latencyMs, jitterMs, gapsMs, seed) => {
          let k = 0;
          const { env, advance } = virtualEnv((n) =>
            Uint8Array.from({ length: n }, () => (seed[k % 4] ?? 0) ^ (k++ * 37)),
          );
          const inner = recordingLink(env);
          const link = delayedLink(
            inner.link,
            env,
            () => ({ ...noFaults, latencyMs, jitterMs }),
            64,
          );
          const sentAt: number[] = [];
          gapsMs.forEach((gap, i) => {
            advance(gap);
            sentAt.push(env.monoMs());
            link.send(i);
          });
          advance(latencyMs + jitterMs + 1);
          assert.deepEqual(
            inner.sent.map((s) => s.frame),
            gapsMs.map((_, i) => i),
          );
          let previousMs = 0;
          inner.sent.forEach((s, i) => {
            const from = sentAt[i] ?? 0;
            assert.ok(s.atMs >= Math.max(previousMs, from + latencyMs - jitterMs));
            assert.ok(s.atMs <= Math.max(previousMs, from + latencyMs + jitterMs));
            previousMs = s.atMs;
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('watchFaultControl', () => {
  test('reads the file at once and on every poll; a bad or oversized file keeps the last setting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorate-fault-'));
    try {
      const path = join(dir, 'control.json');
      writeFileSync(path, JSON.stringify({ latencyMs: 40 }));
      const { env, advance, pending } = virtualEnv();
      const control = watchFaultControl(env, path, noFaults);
      assert.deepEqual(control.current(), { ...noFaults, latencyMs: 40 });
      writeFileSync(path, JSON.stringify({ clockOffsetMs: -900, jitterMs: 3 }));
      advance(faultLimits.controlFilePollMs);
      assert.deepEqual(control.current(), { latencyMs: 0, jitterMs: 3, clockOffsetMs: -900 });
      writeFileSync(path, '{"latencyMs": 1');
      advance(faultLimits.controlFilePollMs);
      assert.deepEqual(control.current(), { latencyMs: 0, jitterMs: 3, clockOffsetMs: -900 });
      writeFileSync(
        path,
        JSON.stringify({ latencyMs: 5, pad: 'x'.repeat(faultLimits.controlFileBytesMax) }),
      );
      advance(faultLimits.controlFilePollMs);
      assert.equal(control.current().latencyMs, 0, 'oversized file ignored');
      rmSync(path);
      advance(faultLimits.controlFilePollMs);
      assert.equal(control.current().clockOffsetMs, -900, 'missing file ignored');
      control.stop();
      assert.equal(pending(), 0, 'no poll left after stop');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without a control file the initial setting stays and nothing polls', () => {
    const { env, pending } = virtualEnv();
    const initial = { ...noFaults, latencyMs: 7 };
    const control = watchFaultControl(env, undefined, initial);
    assert.deepEqual(control.current(), initial);
    assert.equal(pending(), 0);
  });
});
