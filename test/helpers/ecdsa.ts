/**
 * Threshold-ECDSA test support: the fixture wallets (test/vectors/ecdsa-fixtures.json.gz, made
 * by scripts/gen-ecdsa-fixtures.ts: TEST-ONLY keys), engine instances fed by a seeded stream,
 * and two verifiers independent of the code under test: OpenSSL (the `openssl` command, which
 * verifies a raw 32-byte digest; `node:crypto` always hashes first) and libsecp256k1
 * (`tiny-secp256k1`, its WebAssembly build).
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as libsecp256k1 from 'tiny-secp256k1';
import { seededRandom } from '../../src/core/seeded-random.ts';
import { ecdsaFixtureWallets } from '../../src/sim/wallet-fixture.ts';
import { dkls23Instance } from '../../src/party/dkls23-instance.ts';
import { ecdsaPartyEngine } from '../../src/protocol/ecdsa.ts';
import type { KeyShare, PartyEngine } from '../../src/protocol/engine.ts';

/** A fixture wallet: its keys were made with walletId 'w'. */
export interface EcdsaFixture {
  label: string;
  walletId: string;
  threshold: number;
  parties: string[];
  keys: KeyShare[];
}

/** The fixture wallet `t`-of-`n` (2-of-3 or 3-of-5). */
export function ecdsaFixture(t: number, n: number): EcdsaFixture {
  const fixtures = ecdsaFixtureWallets() as readonly EcdsaFixture[];
  const found = fixtures.find((f) => f.threshold === t && f.parties.length === n);
  if (!found) throw new Error(`no ${t}-of-${n} ecdsa fixture`);
  return found;
}

/** A party's `ecdsa` engine on a fresh engine instance fed by the seeded stream (seed, label). */
export async function seededEcdsaEngine(
  seed: number,
  label: string,
): Promise<{ engine: PartyEngine; rng: (n: number) => Uint8Array }> {
  const random = seededRandom(seed, label);
  const rng = (n: number) => random.bytes(n);
  return { engine: ecdsaPartyEngine(dkls23Instance(rng)), rng };
}

/** OpenSSL's verdict on a 64-byte r‖s over a 32-byte digest (`openssl pkeyutl -verify`). */
export function opensslVerifiesDigest(
  signature: Uint8Array,
  digest: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-ecdsa-'));
  try {
    const spki = Buffer.concat([
      Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex'),
      Buffer.from(publicKey),
    ]);
    const pem = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({
      format: 'pem',
      type: 'spki',
    });
    writeFileSync(join(dir, 'pub.pem'), pem);
    writeFileSync(join(dir, 'digest.bin'), digest);
    const der = secp256k1.Signature.fromBytes(signature, 'compact').toBytes('der');
    writeFileSync(join(dir, 'sig.der'), der);
    const args = ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'pub.pem')];
    args.push('-in', join(dir, 'digest.bin'), '-sigfile', join(dir, 'sig.der'));
    try {
      return execFileSync('openssl', args, { encoding: 'utf8' }).includes('Verified Successfully');
    } catch {
      return false;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** libsecp256k1's verdict (strict: low-S only). */
export function libsecp256k1Verifies(
  signature: Uint8Array,
  digest: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  return libsecp256k1.verify(digest, publicKey, signature, true);
}
