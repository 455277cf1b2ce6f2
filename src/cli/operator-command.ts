/**
 * `quorate operator init|certify`: the operator's Ed25519 key, the trust anchor that is not the
 * coordinator (src/transport/certificate.ts). `init` makes the key file; `certify` signs a
 * party's identity request (`quorate party identity`) into the certificate that party presents.
 *
 * The key file holds the 32-byte Ed25519 seed sealed with QUORATE_KEY_PASSPHRASE (scrypt +
 * AES-GCM through the keystore; `init` refuses to run without it), mode 0600, never overwritten.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { realEnv, type Env } from '../core/env.ts';
import { isHexOf } from '../core/encoding.ts';
import { QuorateError } from '../core/errors.ts';
import { isPartyId } from '../core/ids.ts';
import { limits } from '../core/limits.ts';
import { freshKdf, Keystore, parseKdf, type ScryptKdf } from '../store/keystore.ts';
import { issueCertificate } from '../transport/certificate.ts';
import { readBoundedFile, required } from './command-options.ts';

/** The seal label of the operator seed: a sealed blob cannot be passed off as another secret. */
const sealLabel = 'quorate-operator-key-v1';

/** The operator key file. `seed` (hex) or `sealed` (keystore blob + its scrypt parameters). */
export interface OperatorKeyFile {
  v: 1;
  operatorKey: string;
  sealed: { kdf: ScryptKdf; blob: string };
}

/** Where the command writes: stdout lines (tests pass their own). */
export interface OperatorIo {
  out: (line: string) => void;
}

/** Writes `text` to a new file of mode 0600 (owner only); an existing file is `QUORATE_E_CONFIG`. */
function writeNewFile(path: string, text: string): void {
  try {
    writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const exists = (error as { code?: unknown }).code === 'EEXIST';
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      exists
        ? `${path} exists: refusing to overwrite it`
        : `cannot write ${path}: ${String(error)}`,
    );
  }
}

/** `quorate operator init --out FILE`: a fresh operator key; prints `{operatorKey}`. */
function init(argv: string[], env: Env, io: OperatorIo): number {
  const { values } = parseArgs({ args: argv, options: { out: { type: 'string' } } });
  const out = required(values.out, '--out FILE');
  const seed = env.randomBytes(32);
  const operatorKey = bytesToHex(ed25519.getPublicKey(seed));
  // The root of every party's trust is never written in plaintext: sealed, or not at all.
  const passphrase = process.env['QUORATE_KEY_PASSPHRASE'];
  if (passphrase === undefined || passphrase === '')
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      'QUORATE_KEY_PASSPHRASE must be set: the operator key file is sealed with it',
    );
  const file = sealOperatorKey(seed, passphrase, env);
  seed.fill(0);
  writeNewFile(out, `${JSON.stringify(file, null, 2)}\n`);
  io.out(JSON.stringify({ operatorKey }));
  return 0;
}

/** The key file of an operator seed, sealed with `passphrase` (what `init` writes). */
export function sealOperatorKey(seed: Uint8Array, passphrase: string, env: Env): OperatorKeyFile {
  const operatorKey = bytesToHex(ed25519.getPublicKey(seed));
  const kdf = freshKdf(env.randomBytes);
  const blob = Keystore.derive(passphrase, kdf, env.randomBytes).seal(sealLabel, seed);
  return { v: 1, operatorKey, sealed: { kdf, blob } };
}

/** Reads an operator key file; the seed and public key, checked to belong together. */
export async function loadOperatorKey(
  path: string,
  env: Env,
): Promise<{ seed: Uint8Array; key: Uint8Array }> {
  const text = await readBoundedFile(path, limits.operatorFileBytesMax, 'operator key');
  let raw: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    raw = parsed as Record<string, unknown>;
  } catch {
    throw new QuorateError('QUORATE_E_CONFIG', `operator key file ${path} is not a JSON object`);
  }
  const operatorKey = raw['operatorKey'];
  if (raw['v'] !== 1 || !isHexOf(operatorKey, 64)) {
    throw new QuorateError('QUORATE_E_CONFIG', `operator key file ${path} is not a v1 key file`);
  }
  const seed = openSealedSeed(raw['sealed'], path, env);
  const key = ed25519.getPublicKey(seed);
  if (bytesToHex(key) !== operatorKey) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `operator key file ${path}: seed and operatorKey differ`,
    );
  }
  return { seed, key };
}

/** The seed of a sealed key file, with QUORATE_KEY_PASSPHRASE and bounded scrypt cost. */
function openSealedSeed(sealed: unknown, path: string, env: Env): Uint8Array {
  const s =
    typeof sealed === 'object' && sealed !== null ? (sealed as Record<string, unknown>) : {};
  const kdf = parseKdf(s['kdf']);
  if (kdf === undefined || typeof s['blob'] !== 'string') {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `operator key file ${path} has no valid sealed seed`,
    );
  }
  const passphrase = required(
    process.env['QUORATE_KEY_PASSPHRASE'],
    'QUORATE_KEY_PASSPHRASE (the operator key file is sealed)',
  );
  try {
    return Keystore.derive(passphrase, kdf, env.randomBytes).open(sealLabel, s['blob']);
  } catch {
    throw new QuorateError('QUORATE_E_KEYSTORE', `wrong QUORATE_KEY_PASSPHRASE for ${path}`);
  }
}

/** A party's identity request (`quorate party identity`), checked field by field. */
async function loadRequest(path: string) {
  const text = await readBoundedFile(path, limits.operatorFileBytesMax, 'identity request');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new QuorateError('QUORATE_E_CONFIG', `identity request ${path} is not JSON`);
  }
  const r = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const { partyId, identityKey, boxKey } = r;
  if (
    typeof partyId !== 'string' ||
    !isPartyId(partyId) ||
    !isHexOf(identityKey, 64) ||
    !isHexOf(boxKey, 64)
  ) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `identity request ${path} must be {partyId, identityKey, boxKey} as quorate party identity prints it`,
    );
  }
  return { partyId, identityKey, boxKey };
}

/** `quorate operator certify --key FILE --request FILE --out FILE`: writes the certificate. */
async function certify(argv: string[], env: Env, io: OperatorIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { key: { type: 'string' }, request: { type: 'string' }, out: { type: 'string' } },
  });
  const operator = await loadOperatorKey(required(values.key, '--key FILE'), env);
  const subject = await loadRequest(required(values.request, '--request FILE'));
  const out = required(values.out, '--out FILE');
  const certificate = issueCertificate(operator.seed, operator.key, subject, env.nowMs());
  operator.seed.fill(0);
  writeNewFile(out, `${JSON.stringify(certificate, null, 2)}\n`);
  io.out(JSON.stringify({ partyId: subject.partyId, certificate: out }));
  return 0;
}

/** Runs `quorate operator init|certify`; returns the exit code. */
export async function runOperatorCommand(
  argv: string[],
  io: OperatorIo,
  env: Env = realEnv({ logLevel: 'silent' }),
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'init') return init(rest, env, io);
  if (sub === 'certify') return certify(rest, env, io);
  throw new QuorateError(
    'QUORATE_E_CONFIG',
    'usage: quorate operator init|certify (see quorate --help)',
  );
}
