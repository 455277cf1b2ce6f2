/**
 * A party process runs its threshold-ECDSA engine in a worker thread whose randomness still
 * comes from the party's Env: the worker signs exactly what the in-process instance signs from
 * the same seeded stream, an engine panic comes back as an error and the next call runs on a
 * fresh worker, and a stopped worker fails its calls instead of hanging them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import { seededRandom } from '../../src/core/seeded-random.ts';
import { startDkls23Worker } from '../../src/party/dkls23-worker-protocol.ts';
import { ecdsaEngine, ecdsaPartyEngine } from '../../src/protocol/ecdsa.ts';
import { runSigningWith } from '../../src/protocol/local-run.ts';
import { ecdsaFixture, seededEcdsaEngine } from '../helpers/ecdsa.ts';

describe('the ecdsa engine worker', () => {
  test('signs as the in-process instance does from the same seed, and survives a panic', async () => {
    const fixture = ecdsaFixture(2, 3);
    const digest = sha256(new TextEncoder().encode('worker'));
    const inProcess = await seededEcdsaEngine(11, 'worker');
    const expected = await runSigningWith(
      ecdsaEngine(),
      inProcess.engine,
      fixture.keys,
      ['p2', 'p3'],
      digest,
      inProcess.rng,
    );
    const random = seededRandom(11, 'worker');
    const rng = (n: number) => random.bytes(n);
    const worker = await startDkls23Worker(rng);
    try {
      const engine = ecdsaPartyEngine(worker.api);
      const got = await runSigningWith(
        ecdsaEngine(),
        engine,
        fixture.keys,
        ['p2', 'p3'],
        digest,
        rng,
      );
      assert.deepEqual(got, expected);
      // Malformed input makes the wasm panic: an error for this call; that worker exits, and the
      // next call runs on a fresh one (a panic leaks wasm memory).
      await assert.rejects(Promise.resolve(worker.api.signPhase1({}, {})));
      const again = await runSigningWith(
        ecdsaEngine(),
        engine,
        fixture.keys,
        ['p1', 'p3'],
        digest,
        rng,
      );
      assert.equal(again.signature.length, 128);
    } finally {
      await worker.stop();
    }
    await assert.rejects(Promise.resolve(worker.api.keygenPhase1({})), /stopped/);
  });
});
