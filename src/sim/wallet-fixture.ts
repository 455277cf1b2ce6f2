/**
 * Pre-generated wallets. A real DKG costs 50–470 ms of CPU (see docs/simulator.md), more than a
 * whole simulated seed, so by default each (scheme, t, n) key set is generated once per process
 * by the real FROST engine in memory, from a fixed stream (not the run's seed): a seed replays
 * identically alone or in a batch. An `ecdsa` key generation costs 5–30 s, so its key sets come
 * from the committed fixture file instead (test/vectors/ecdsa-fixtures.json.gz, made by the real
 * engine from a public seed by scripts/gen-ecdsa-fixtures.ts: TEST-ONLY keys). Runs with
 * `dkg: true` create the wallet through the real runtimes instead.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { bytesToHex } from '@noble/hashes/utils.js';
import { assert } from '../core/assert.ts';
import type { KeyShare, ProtocolMessage, ProtocolRole, Scheme } from '../protocol/engine.ts';
import { engines, frostSchemeOf } from '../protocol/frost.ts';
import { createSealer } from '../protocol/sealed-box.ts';
import { generateIdentity } from '../transport/identity.ts';
import { seededRandom, type SeededRandom } from '../core/seeded-random.ts';

/** A wallet's public facts and every party's key share. */
export interface WalletKeys {
  walletId: string;
  scheme: Scheme;
  threshold: number;
  parties: string[];
  publicKey: string;
  publicPackage: KeyShare['publicPackage'];
  shares: Map<string, KeyShare>;
}

const cache = new Map<string, WalletKeys>();

/**
 * Keys for a `threshold`-of-`parties` wallet of `scheme` (cached, deterministic). A `variant`
 * names a second wallet over the same parties (e.g. `governed`): its own id and keys.
 */
export function walletKeys(
  scheme: Scheme,
  threshold: number,
  parties: string[],
  variant?: string,
): WalletKeys {
  const base = `${scheme}/${threshold}/${parties.join(',')}`;
  // The first wallet's label is what it always was, so its id and keys stay the same.
  const label = variant === undefined ? base : `${base}/${variant}`;
  const cached = cache.get(label);
  if (cached) return cached;
  const rng = seededRandom(0, `wallet-fixture/${label}`);
  const walletId = `w_${bytesToHex(rng.bytes(12))}`;
  const keys =
    scheme === 'ecdsa'
      ? ecdsaWalletKeys(walletId, threshold, parties)
      : frostWalletKeys(walletId, scheme, threshold, parties, rng);
  cache.set(label, keys);
  return keys;
}

/** A FROST key set made by the real engine's DKG in memory, from `rng`. */
function frostWalletKeys(
  walletId: string,
  scheme: Scheme,
  threshold: number,
  parties: string[],
  rng: SeededRandom,
): WalletKeys {
  const engine = engines[frostSchemeOf(scheme)];
  const identities = new Map(parties.map((p) => [p, generateIdentity(rng.bytes(64))]));
  const boxKeys = Object.fromEntries([...identities].map(([p, k]) => [p, bytesToHex(k.boxPublic)]));
  const coordinator = engine.keygenCoordinator({ parties, threshold });
  coordinator.start();
  const roles = new Map<string, ProtocolRole<unknown>>([['coordinator', coordinator]]);
  const queue: ProtocolMessage[] = [];
  for (const p of parties) {
    const sealer = createSealer({
      context: `${walletId}|fixture`,
      self: p,
      boxSecret: identities.get(p)?.boxSecret ?? new Uint8Array(32),
      peerBoxKeys: boxKeys,
      randomBytes: (n) => rng.bytes(n),
    });
    const role = engine.keygenParticipant({
      walletId,
      partyId: p,
      parties,
      threshold,
      rng: (n) => rng.bytes(n),
      sealer,
    });
    roles.set(p, role);
    queue.push(...role.start().outgoing);
  }
  const shares = new Map<string, KeyShare>();
  let publicKey = '';
  let publicPackage: KeyShare['publicPackage'] = {};
  for (let guard = 0; queue.length > 0; guard++) {
    assert(guard < 10_000, 'fixture DKG terminates');
    const msg = queue.shift() as ProtocolMessage;
    const step = roles.get(msg.to)?.handle(msg);
    assert(step !== undefined && step.kind !== 'abort', 'fixture DKG does not abort');
    queue.push(...step.outgoing);
    if (step.kind !== 'done') continue;
    if (msg.to === 'coordinator') {
      const result = step.result as { publicKey: string; publicPackage: KeyShare['publicPackage'] };
      publicKey = result.publicKey;
      publicPackage = result.publicPackage;
    } else shares.set(msg.to, step.result as KeyShare);
  }
  assert(shares.size === parties.length && publicKey !== '', 'fixture DKG finished');
  return { walletId, scheme, threshold, parties, publicKey, publicPackage, shares };
}

/** A key set of the ecdsa fixture file, as written (its keys name the wallet `w`). */
export interface EcdsaFixtureWallet {
  threshold: number;
  parties: string[];
  keys: KeyShare[];
}

let ecdsaFixtures: EcdsaFixtureWallet[] | undefined;

/** The key sets of the ecdsa fixture file (read once per process). */
export function ecdsaFixtureWallets(): readonly EcdsaFixtureWallet[] {
  ecdsaFixtures ??= (
    JSON.parse(
      gunzipSync(
        readFileSync(new URL('../../test/vectors/ecdsa-fixtures.json.gz', import.meta.url)),
      ).toString(),
    ) as { wallets: EcdsaFixtureWallet[] }
  ).wallets;
  return ecdsaFixtures;
}

/**
 * The ecdsa fixture key set for `threshold`-of-`parties`, under `walletId`. A governed variant
 * shares the plain wallet's key: the shares do not depend on the wallet's id, and every check
 * (intents, nonce slots, signatures) is per wallet.
 */
function ecdsaWalletKeys(walletId: string, threshold: number, parties: string[]): WalletKeys {
  const found = ecdsaFixtureWallets().find(
    (f) => f.threshold === threshold && f.parties.join(',') === parties.join(','),
  );
  assert(found !== undefined, `an ecdsa fixture for ${threshold} of ${parties.join(',')}`);
  const first = found.keys[0];
  assert(first !== undefined, 'the ecdsa fixture has keys');
  return {
    walletId,
    scheme: 'ecdsa',
    threshold,
    parties,
    publicKey: first.publicKey,
    publicPackage: first.publicPackage,
    shares: new Map(found.keys.map((k) => [k.partyId, { ...k, walletId }])),
  };
}
