/** `quorate sim` flags, JSON summary, and the DKG-through-runtimes path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimCommand } from '../../src/cli/sim-command.ts';
import { runSeed } from '../../src/sim/run-seed.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

test('--seed S --json prints one summary line and exits 0', async () => {
  const c = capture();
  assert.equal(await runSimCommand(['--seed', '4', '--json'], c.io), 0);
  assert.equal(c.out.length, 1);
  const summary = JSON.parse(c.out[0]!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(summary).sort(), [
    'availability',
    'detectionMsP50',
    'failFastMsP50',
    'governed',
    'governedSeeds',
    'recoveryMsP50',
    'retriesAfterFailure',
    'seeds',
    'sessions',
    'signedAfterRetry',
    'violations',
  ]);
  assert.equal(summary['seeds'], 1);
  assert.equal(summary['violations'], 0);
});

test('bad flags exit 2 with usage', async () => {
  for (const argv of [[], ['--seeds', 'x'], ['--kind', 'nope', '--seeds', '1'], ['--frobnicate']]) {
    const c = capture();
    assert.equal(await runSimCommand(argv, c.io), 2, argv.join(' '));
    assert.match(c.err.join('\n'), /usage: quorate sim/);
  }
});

test('a wallet created by DKG through the real runtimes signs under faults', async () => {
  const r = await runSeed({ seed: 2, dkg: true, kind: 'party-crash' });
  assert.deepEqual(r.report.violations, []);
  assert.ok(r.history.some((e) => e.f === 'sign' && e.type === 'ok'));
});
