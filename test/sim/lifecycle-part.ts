/**
 * Shared body of the 500-seed key-lifecycle campaign, split over two test files so
 * `--test-concurrency=2` runs the halves on both cores. Every seed refreshes or reshares its
 * wallet around its fault (src/sim/lifecycle-workload.ts) and the checker judges I1–I9.
 */
import assert from 'node:assert/strict';
import { runCampaign } from '../../src/sim/campaign.ts';

/** Runs lifecycle seeds [first, first + count) and asserts zero violations. */
export async function lifecycleHalf(first: number, count: number): Promise<void> {
  const seeds = Array.from({ length: count }, (_, i) => first + i);
  const started = process.hrtime.bigint();
  const summary = await runCampaign(seeds, { lifecycle: true });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const replay = summary.failures.map(
    (f) => `quorate sim --lifecycle --seed ${f.seed} (${f.kind})`,
  );
  const { lifecycle } = summary;
  console.log(
    JSON.stringify({ first, count, seconds: Math.round(seconds), lifecycle, failures: replay }),
  );
  assert.equal(summary.seeds, count);
  assert.deepEqual(replay, [], 'every lifecycle seed passes the checker');
  assert.equal(summary.violations, 0);
  assert.ok(lifecycle !== undefined && lifecycle.seeds === count);
  // Most operations flip; some roll back (a fault cut a party or the coordinator mid-way);
  // none is left running at the end of its run.
  assert.ok(lifecycle.done > count, `${lifecycle.done} operations flipped`);
  assert.ok(lifecycle.failed > 0, 'some operations rolled back');
  assert.equal(lifecycle.running, 0, 'every operation ended');
}
