/**
 * The coordinator identity shared by every replica of one deployment. Parties pin ONE
 * coordinator identity key, so all replicas must sign with the same key: the first replica to
 * start generates it, seals it (AES-256-GCM, key from QUORATE_KEY_PASSPHRASE by scrypt with a
 * salt stored next to it) and writes it create-if-absent into the store; every replica,
 * including a racing one, then opens the one stored copy. The store never sees the key in
 * plaintext.
 */
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { freshKdf, Keystore, parseKdf, type ScryptKdf } from '../store/keystore.ts';
import type { Store } from '../store/store.ts';
import type { IdentityKeys } from '../transport/identity.ts';
import { identityFromStoredSecrets } from './meta-store.ts';

/** Store meta key of the sealed identity. */
export const coordinatorIdentityMetaKey = 'coordinator-identity';
const sealLabel = 'coordinator-identity';

/** What the meta record holds (JSON). */
interface SealedIdentity {
  version: 1;
  kdf: { name: 'scrypt' } & ScryptKdf;
  sealed: string;
}

/** Loads the deployment's coordinator identity from the store, creating it on first start. */
export async function loadSharedIdentity(
  store: Store,
  passphrase: string,
  env: Env,
): Promise<IdentityKeys> {
  let raw = await store.getMeta(coordinatorIdentityMetaKey);
  if (raw === undefined) {
    const kdf = freshKdf(env.randomBytes);
    const keystore = Keystore.derive(passphrase, kdf, env.randomBytes);
    const secrets = env.randomBytes(64);
    const record: SealedIdentity = {
      version: 1,
      kdf: { name: 'scrypt', ...kdf },
      sealed: keystore.seal(sealLabel, secrets),
    };
    secrets.fill(0);
    raw = await store.putMetaIfAbsent(coordinatorIdentityMetaKey, JSON.stringify(record));
  }
  return openSealed(raw, passphrase, env);
}

/** Checks the stored record's shape (the store is shared, so its value is read as untrusted). */
function parseSealedIdentity(raw: string): SealedIdentity {
  const value: unknown = JSON.parse(raw);
  if (typeof value !== 'object' || value === null) throw new Error('not an object');
  const { version, kdf, sealed } = value as Record<string, unknown>;
  if (version !== 1 || typeof kdf !== 'object' || kdf === null) throw new Error('unknown format');
  if ((kdf as Record<string, unknown>)['name'] !== 'scrypt') throw new Error('unknown format');
  const params = parseKdf(kdf);
  if (params === undefined || typeof sealed !== 'string')
    throw new Error('malformed kdf or sealed value');
  return { version: 1, kdf: { name: 'scrypt', ...params }, sealed };
}

function openSealed(raw: string, passphrase: string, env: Env): IdentityKeys {
  let record: SealedIdentity;
  try {
    record = parseSealedIdentity(raw);
  } catch (error) {
    throw new QuorateError('QUORATE_E_KEYSTORE', `stored coordinator identity is unreadable`, {
      problem: String(error),
    });
  }
  const keystore = Keystore.derive(passphrase, record.kdf, env.randomBytes);
  let secrets: Uint8Array;
  try {
    secrets = keystore.open(sealLabel, record.sealed);
  } catch {
    throw new QuorateError(
      'QUORATE_E_KEYSTORE',
      'wrong QUORATE_KEY_PASSPHRASE for the coordinator identity in the store (every replica needs the same one)',
    );
  }
  return identityFromStoredSecrets(secrets);
}
