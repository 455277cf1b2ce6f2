/** Every seed that once found a bug keeps passing (test/sim/regression-seeds.json). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { NemesisKind } from '../../src/sim/nemesis.ts';
import { runSeed } from '../../src/sim/run-seed.ts';

const file = new URL('./regression-seeds.json', import.meta.url);
const { seeds } = JSON.parse(readFileSync(file, 'utf8')) as {
  /** `pinnedKind`: the kind is passed (`--kind`), not drawn (replica nemeses are never drawn). */
  seeds: { seed: number; kind: string; found: string; pinnedKind?: boolean }[];
};

for (const entry of seeds) {
  test(`regression seed ${entry.seed} (${entry.kind})`, async () => {
    const result = await runSeed(
      entry.pinnedKind === true
        ? { seed: entry.seed, kind: entry.kind as NemesisKind }
        : { seed: entry.seed },
    );
    assert.equal(result.kind, entry.kind, 'the seed still draws the same scenario');
    assert.deepEqual(result.report.violations, [], entry.found);
  });
}
