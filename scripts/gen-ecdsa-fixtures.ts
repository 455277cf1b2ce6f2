/**
 * Writes the threshold-ECDSA fixture wallets to test/vectors/ecdsa-fixtures.json.gz: a 2-of-3
 * and a 3-of-5 key set made by a full, seeded DKLs23 key generation (test signatures by every
 * t-subset included), so tests and the simulator can sign without spending 10–30 s on key
 * generation. TEST-ONLY KEYS: they come from a public seed; never fund them.
 *
 *   node --import tsx scripts/gen-ecdsa-fixtures.ts
 *
 * The same seed gives the same file (the engine's generator is fed by the seeded stream).
 */
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { seededRandom } from '../src/core/seeded-random.ts';
import { dkls23Instance } from '../src/party/dkls23-instance.ts';
import { ecdsaEngine, ecdsaPartyEngine } from '../src/protocol/ecdsa.ts';
import { runKeygenWith } from '../src/protocol/local-run.ts';

const out = new URL('../test/vectors/ecdsa-fixtures.json.gz', import.meta.url);
const sets = [
  { threshold: 2, parties: ['p1', 'p2', 'p3'] },
  { threshold: 3, parties: ['p1', 'p2', 'p3', 'p4', 'p5'] },
];
const wallets = [];
for (const { threshold, parties } of sets) {
  const label = `ecdsa-fixture/${threshold}-of-${parties.length}`;
  const random = seededRandom(0, label);
  const rng = (n: number) => random.bytes(n);
  const engine = ecdsaPartyEngine(dkls23Instance(rng));
  const started = performance.now();
  const keys = await runKeygenWith(ecdsaEngine(), engine, parties, threshold, rng);
  const ms = Math.round(performance.now() - started);
  console.log(`${label}: ${keys[0]?.publicKey} in ${ms} ms`);
  wallets.push({ label, walletId: 'w', threshold, parties, keys });
}
const body = JSON.stringify({ note: 'TEST-ONLY keys from a public seed', wallets });
writeFileSync(out, gzipSync(body, { level: 9 }));
console.log(`wrote ${out.pathname}`);
