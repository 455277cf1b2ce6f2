/** Every seed that once found a bug keeps passing (test/sim/regression-seeds.json). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { NemesisKind } from '../../src/sim/nemesis.ts';
import { runSeed } from '../../src/sim/run-seed.ts';

const file = new URL('./regression-seeds.json', import.meta.url);
const { seeds } = JSON.parse(readFileSync(file, 'utf8')) as {
  /**
   * `pinnedKind`: the kind is passed (`--kind`), not drawn (replica nemeses are never drawn).
   * `combined`: run with a second fault (`--combined`), whose kind is `secondKind`.
   * `governed`: the seed found its bug with a governed wallet; the others run without one,
   * exactly the scenario that found them (whatever the seed now draws).
   * `ecdsa`: the seed found its bug with ecdsa wallets; the others run their FROST scheme.
   */
  seeds: {
    seed: number;
    kind: string;
    found: string;
    pinnedKind?: boolean;
    combined?: boolean;
    secondKind?: string;
    governed?: boolean;
    ecdsa?: boolean;
  }[];
};

for (const entry of seeds) {
  const label = entry.combined === true ? `${entry.kind}+${entry.secondKind}` : entry.kind;
  test(`regression seed ${entry.seed} (${label})`, async () => {
    const result = await runSeed({
      seed: entry.seed,
      ...(entry.pinnedKind === true ? { kind: entry.kind as NemesisKind } : {}),
      ...(entry.combined === true ? { combined: true } : {}),
      governed: entry.governed === true,
      ecdsa: entry.ecdsa === true,
    });
    assert.equal(result.kind, entry.kind, 'the seed still draws the same scenario');
    assert.equal(result.secondKind, entry.secondKind, 'and the same second fault');
    assert.deepEqual(result.report.violations, [], entry.found);
  });
}
