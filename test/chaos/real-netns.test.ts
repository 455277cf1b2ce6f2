/**
 * The harness on real processes in network namespaces: short versions of four scenarios must
 * pass the checker and leave no namespace behind; Ctrl-C mid-run and a crashed run's leftovers
 * are cleaned up too. Needs root: without it these tests FAIL with the harness's clear error
 * (they never skip silently).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realEnv } from '../../src/core/env.ts';
import { listNetns, netnsPrefix, preflight, run, sweepStale } from '../../src/chaos/netns.ts';
import { runScenario, type ChaosRunOptions } from '../../src/chaos/run-scenario.ts';
import type { ScenarioName } from '../../src/chaos/schedule.ts';
import type { HistoryEvent } from '../../src/checker/history.ts';

const outRoot = mkdtempSync(join(tmpdir(), 'quorate-chaos-test-'));
after(() => rmSync(outRoot, { recursive: true, force: true }));

const ours = async (pid: number) =>
  (await listNetns()).filter((n) => n.startsWith(`${netnsPrefix}${pid}-`));

const env = realEnv({ logLevel: 'silent' });
const options = (
  scenario: ScenarioName,
  seed: number,
  scheme: ChaosRunOptions['scheme'] = 'ed25519',
): ChaosRunOptions => ({
  env,
  scenario,
  seed,
  durationS: 12,
  outDir: join(outRoot, `${scenario}-${scheme}`),
  ratePerS: 3,
  scheme,
  // As `quorate chaos run`: ecdsa runs on the production detector (docs/game-day.md).
  heartbeatMs: scheme === 'ecdsa' ? 1_000 : 250,
  downAfterMs: scheme === 'ecdsa' ? 5_000 : 2_000,
  progress: () => {},
});

describe('preflight', () => {
  test('without root the harness refuses with a clear error', async () => {
    const original = process.getuid;
    assert.ok(original !== undefined);
    process.getuid = () => 1000;
    try {
      assert.match((await preflight()) ?? '', /needs root/);
    } finally {
      process.getuid = original;
    }
  });
});

describe('short scenarios on real processes (root)', () => {
  for (const [scenario, seed, scheme] of [
    ['majority-loss', 3, 'ed25519'],
    ['kill-restart', 1, 'ed25519'],
    ['pause', 2, 'ed25519'],
    ['client-partition', 1, 'ed25519'],
    // Threshold ECDSA on the same harness: a party killed and restarted mid-run.
    ['kill-restart', 2, 'ecdsa'],
  ] as const) {
    test(`${scenario} (${scheme}): the checker passes and every namespace is gone`, async () => {
      const result = await runScenario(options(scenario, seed, scheme));
      assert.equal(result.wallet.scheme, scheme);
      assert.deepEqual(result.report.violations, [], JSON.stringify(result.report.violations));
      assert.ok(result.summary.requests >= 20, `requests ${result.summary.requests}`);
      assert.ok(result.summary.ok > 0);
      assert.ok(result.namespaces.length >= 5);
      const left = await listNetns();
      for (const n of result.namespaces) assert.ok(!left.includes(n), `${n} left behind`);
      const files = ['history.jsonl', 'summary.json', 'report.html', 'check.json'];
      for (const f of files)
        assert.ok(readFileSync(join(options(scenario, seed, scheme).outDir, f)).length > 0);
      const outDir = options(scenario, seed, scheme).outDir;
      const history = readFileSync(join(outDir, 'history.jsonl'), 'utf8');
      assert.match(history, /"process":"nemesis"/, 'nemesis events in the same stream');
      if (scenario === 'majority-loss') {
        const codes = result.report.metrics.failFastMs.length;
        assert.ok(codes > 0, 'explicit failures while the coordinator had no quorum');
      }
      if (scenario === 'client-partition') {
        // The client heard nothing during the cut (its requests were held up by TCP until the
        // heal, or lost); the cluster still finished (or failed) every session it had accepted,
        // on its own, and signed each intent at most once (I1 is in the checker's verdict).
        const events = history
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as HistoryEvent);
        const cut = result.schedule.windows[0]!;
        const invokedInCut = new Set(
          events
            .filter((e) => e.type === 'invoke' && e.timeMs >= cut.startMs && e.timeMs < cut.endMs)
            .map((e) => (e.value as { requestId: string }).requestId),
        );
        const heldUp = events.filter(
          (e) =>
            e.type !== 'invoke' &&
            e.f === 'sign' &&
            invokedInCut.has((e.value as { requestId: string }).requestId) &&
            (e.timeMs >= cut.endMs || e.type === 'info'),
        );
        assert.ok(heldUp.length > 0, 'requests sent during the cut were held up or lost');
        assert.ok(result.sessions.length > 0);
        for (const s of result.sessions)
          assert.ok(s.status === 'signed' || s.status === 'failed', JSON.stringify(s));
      }
    });
  }

  test('Ctrl-C mid-run: the harness removes its namespaces and processes', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/chaos-entry.ts',
        'run',
        '--scenario',
        'pause',
        '--duration',
        '30',
        '--seed',
        '1',
        '--out',
        join(outRoot, 'interrupted'),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const pid = child.pid ?? 0;
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`harness did not start: ${stderr}`)), 60_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += String(d);
        if (stderr.includes('nemesis start') || stderr.includes('fault: none')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    assert.ok((await ours(pid)).length > 0, 'namespaces exist while running');
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 130);
    assert.deepEqual(await ours(pid), []);
    const leftovers = spawnSync('pgrep', ['-f', join(outRoot, 'interrupted')], {
      encoding: 'utf8',
    });
    assert.equal(leftovers.stdout.trim(), '', 'no process of the run is left');
  });

  test("a crashed run's namespaces are swept by the next run", async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid ?? 0;
    const name = `${netnsPrefix}${dead}-stale`;
    await run('ip', ['netns', 'add', name]);
    assert.ok((await listNetns()).includes(name));
    const swept = await sweepStale();
    assert.ok(swept.includes(name));
    assert.ok(!(await listNetns()).includes(name));
  });
});
