/**
 * Encryption at rest for a party's secrets (identity keys, key shares): AES-256-GCM with a key
 * derived from `QUORATE_KEY_PASSPHRASE` by scrypt. The file `keystore.json` holds only the KDF
 * parameters, a salt and a sealed check value; secrets are sealed blobs, never plaintext.
 */
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { aes256Gcm, scrypt } from '../core/openssl.ts';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';

/** scrypt cost: N=2^15, r=8, p=1 (32 MiB, ~0.1–0.5 s once at start-up). */
export const scryptParams = { N: 2 ** 15, r: 8, p: 1, dkLen: 32 } as const;

/** The scrypt parameters stored beside a passphrase-sealed secret (salt: 32 hex). */
export interface ScryptKdf {
  N: number;
  r: number;
  p: number;
  salt: string;
}

/** Parameters for sealing a new secret: the default cost and a fresh 16-byte salt. */
export function freshKdf(rng: (n: number) => Uint8Array): ScryptKdf {
  return { N: scryptParams.N, r: scryptParams.r, p: scryptParams.p, salt: bytesToHex(rng(16)) };
}

/**
 * Stored scrypt parameters, read as untrusted (a shared store, a file): the cost is bounded so
 * that a tampered record cannot make a process spend minutes or gigabytes deriving a key.
 * Undefined if they are not parameters this code would accept.
 */
export function parseKdf(raw: unknown): ScryptKdf | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { N, r, p, salt } = raw as Record<string, unknown>;
  const bounded = (x: unknown, max: number): x is number =>
    typeof x === 'number' && Number.isSafeInteger(x) && x >= 1 && x <= max;
  if (!bounded(N, limits.sharedIdentityScryptNMax)) return undefined;
  if (!bounded(r, limits.sharedIdentityScryptRMax)) return undefined;
  if (!bounded(p, limits.sharedIdentityScryptPMax)) return undefined;
  if (typeof salt !== 'string' || !/^[0-9a-f]{32}$/.test(salt)) return undefined;
  return { N, r, p, salt };
}
const checkLabel = 'quorate-keystore-check';
const checkPlain = utf8ToBytes('quorate keystore v1');

interface KeystoreFile {
  version: 1;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  check: string;
}

/** Seals and opens secrets with the passphrase-derived key. */
export class Keystore {
  private constructor(
    private readonly key: Uint8Array,
    private readonly rng: (n: number) => Uint8Array,
  ) {}

  /**
   * Opens `DIR/keystore.json`, creating it on first start. A wrong passphrase fails with
   * `QUORATE_E_KEYSTORE` before anything else happens.
   */
  static open(dir: string, passphrase: string, rng: (n: number) => Uint8Array): Keystore {
    if (passphrase.length < 8) {
      throw new QuorateError(
        'QUORATE_E_CONFIG',
        'QUORATE_KEY_PASSPHRASE must be at least 8 characters',
      );
    }
    const path = join(dir, 'keystore.json');
    if (!existsSync(path)) {
      const salt = rng(16);
      const store = new Keystore(scrypt(utf8ToBytes(passphrase), salt, scryptParams), rng);
      const file: KeystoreFile = {
        version: 1,
        kdf: {
          name: 'scrypt',
          N: scryptParams.N,
          r: scryptParams.r,
          p: scryptParams.p,
          salt: bytesToHex(salt),
        },
        check: store.seal(checkLabel, checkPlain),
      };
      writeFileSync(`${path}.tmp`, JSON.stringify(file, null, 2), { mode: 0o600 });
      renameSync(`${path}.tmp`, path);
      return store;
    }
    let file: KeystoreFile;
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as KeystoreFile;
    } catch (error) {
      throw new QuorateError(
        'QUORATE_E_KEYSTORE',
        `keystore.json is unreadable: ${String(error)}`,
        { path },
      );
    }
    const { N, r, p, salt } = file.kdf;
    const store = new Keystore(
      scrypt(utf8ToBytes(passphrase), hexToBytes(salt), { N, r, p, dkLen: 32 }),
      rng,
    );
    try {
      store.open(checkLabel, file.check);
    } catch {
      throw new QuorateError(
        'QUORATE_E_KEYSTORE',
        'wrong QUORATE_KEY_PASSPHRASE for this data directory',
        { path },
      );
    }
    return store;
  }

  /**
   * A keystore whose key is derived from `passphrase` with an explicit scrypt salt and cost, for
   * secrets shared by several processes (the coordinator identity every replica loads from the
   * store): same passphrase + same salt → same key, wherever the data directory is.
   */
  /** A keystore over an already derived 32-byte key (the simulator's per-party sealer). */
  static fromKey(key: Uint8Array, rng: (n: number) => Uint8Array): Keystore {
    return new Keystore(key, rng);
  }

  static derive(
    passphrase: string,
    kdf: { N: number; r: number; p: number; salt: string },
    rng: (n: number) => Uint8Array,
  ): Keystore {
    if (passphrase.length < 8) {
      throw new QuorateError(
        'QUORATE_E_CONFIG',
        'QUORATE_KEY_PASSPHRASE must be at least 8 characters',
      );
    }
    const { N, r, p, salt } = kdf;
    return new Keystore(
      scrypt(utf8ToBytes(passphrase), hexToBytes(salt), { N, r, p, dkLen: 32 }),
      rng,
    );
  }

  /** Encrypts `plaintext`; `label` is bound as associated data (a blob cannot be swapped). */
  seal(label: string, plaintext: Uint8Array): string {
    const nonce = this.rng(12);
    const sealed = aes256Gcm.seal(this.key, nonce, utf8ToBytes(label), plaintext);
    return bytesToHex(concatBytes(nonce, sealed));
  }

  /** Decrypts a blob from {@link seal}; throws if the label or data do not match. */
  open(label: string, sealedHex: string): Uint8Array {
    const raw = hexToBytes(sealedHex);
    return aes256Gcm.open(this.key, raw.slice(0, 12), utf8ToBytes(label), raw.slice(12));
  }
}
