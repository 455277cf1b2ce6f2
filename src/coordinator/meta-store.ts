/**
 * The coordinator's own small sealed metadata store: a few named values in one file of its data
 * directory (`coordinator-meta.json`), each sealed with the data directory's Keystore
 * (AES-256-GCM, the key name bound as associated data, so values cannot be swapped). It holds
 * the coordinator's identity keys (one coordinator on SQLite; replicas on etcd share theirs
 * through the store, see shared-identity.ts) and this data directory's replica id.
 *
 * Coordinators before this store kept both in `identity.sqlite` (a table `meta(key, value)`);
 * {@link openCoordinatorMeta} takes them over once, so an existing data directory keeps its
 * identity (parties pin it) and its replica id (it takes its own sessions back at once).
 */
import Database from 'better-sqlite3';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Keystore } from '../store/keystore.ts';
import { generateIdentity, identityFromSecrets, type IdentityKeys } from '../transport/identity.ts';

/** The keys the store holds. */
export type CoordinatorMetaKey = 'identity' | 'replica-id';
const metaKeys: readonly CoordinatorMetaKey[] = ['identity', 'replica-id'];

/** File name inside the data directory. */
export const coordinatorMetaFileName = 'coordinator-meta.json';
/** Where coordinators before this store kept their identity and replica id. */
export const legacyIdentityFileName = 'identity.sqlite';

interface MetaFile {
  version: 1;
  values: Partial<Record<CoordinatorMetaKey, string>>;
}

const isMetaKey = (key: string): key is CoordinatorMetaKey =>
  (metaKeys as readonly string[]).includes(key);
const sealedHexMax = (limits.coordinatorMetaValueBytesMax + 28) * 2;

function unreadable(path: string, problem: string): QuorateError {
  return new QuorateError('QUORATE_E_KEYSTORE', `${path} is unreadable: ${problem}`, { path });
}

/** Validates the file's JSON: a version and sealed hex values under known keys only. */
function parseMetaFile(path: string, text: string): MetaFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw unreadable(path, String(error));
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw unreadable(path, 'not an object');
  const { version, values } = raw as Record<string, unknown>;
  if (version !== 1) throw unreadable(path, 'unknown version');
  if (typeof values !== 'object' || values === null || Array.isArray(values))
    throw unreadable(path, 'values is not an object');
  const parsed: MetaFile['values'] = {};
  for (const [key, value] of Object.entries(values)) {
    if (!isMetaKey(key)) throw unreadable(path, `unknown key ${key.slice(0, 64)}`);
    if (typeof value !== 'string' || value.length > sealedHexMax || !/^[0-9a-f]+$/.test(value))
      throw unreadable(path, `value of ${key} is not sealed hex`);
    parsed[key] = value;
  }
  return { version: 1, values: parsed };
}

/** Writes `text` to `path` so that a crash leaves the old file or the new one, never half. */
function writeDurably(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** A few sealed values in the coordinator's data directory. */
export class CoordinatorMetaStore {
  private constructor(
    private readonly path: string,
    private readonly keystore: Keystore,
    private readonly file: MetaFile,
  ) {}

  /** Opens `DIR/coordinator-meta.json` (empty if absent); a damaged file: QUORATE_E_KEYSTORE. */
  static open(dataDir: string, keystore: Keystore): CoordinatorMetaStore {
    const path = join(dataDir, coordinatorMetaFileName);
    if (!existsSync(path))
      return new CoordinatorMetaStore(path, keystore, { version: 1, values: {} });
    if (statSync(path).size > limits.coordinatorMetaFileBytesMax)
      throw unreadable(path, `larger than ${limits.coordinatorMetaFileBytesMax} bytes`);
    return new CoordinatorMetaStore(
      path,
      keystore,
      parseMetaFile(path, readFileSync(path, 'utf8')),
    );
  }

  /** The value under `key`, or undefined; a value that does not open is `QUORATE_E_KEYSTORE`. */
  get(key: CoordinatorMetaKey): Uint8Array | undefined {
    const sealed = this.file.values[key];
    if (sealed === undefined) return undefined;
    try {
      return this.keystore.open(sealLabel(key), sealed);
    } catch {
      throw unreadable(this.path, `${key} does not open with this data directory's keystore`);
    }
  }

  /** Stores `value` under `key` (durably, before returning). */
  put(key: CoordinatorMetaKey, value: Uint8Array): void {
    if (value.length > limits.coordinatorMetaValueBytesMax)
      throw new QuorateError('QUORATE_E_INTERNAL', `coordinator meta value ${key} too large`);
    this.file.values[key] = this.keystore.seal(sealLabel(key), value);
    writeDurably(this.path, JSON.stringify(this.file));
  }
}

const sealLabel = (key: CoordinatorMetaKey) => `coordinator-meta:${key}`;

/** The identity and replica id a coordinator before the meta store left in identity.sqlite. */
function readLegacyMeta(dataDir: string): Partial<Record<CoordinatorMetaKey, string>> {
  const path = join(dataDir, legacyIdentityFileName);
  if (!existsSync(path)) return {};
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const hasMeta = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
      .get();
    if (hasMeta === undefined) return {};
    const read = (key: string): string | undefined => {
      const row: unknown = db.prepare('SELECT value FROM meta WHERE key = ?').get(key);
      if (typeof row !== 'object' || row === null || !('value' in row)) return undefined;
      return typeof row.value === 'string' ? row.value : undefined;
    };
    const identity = read('identity');
    const replicaId = read('replica-id');
    return {
      ...(identity === undefined ? {} : { identity }),
      ...(replicaId === undefined ? {} : { 'replica-id': replicaId }),
    };
  } finally {
    db.close();
  }
}

/**
 * Opens the meta store of `dataDir` and takes over what an older coordinator kept in
 * identity.sqlite (its identity, sealed with the same keystore under the label `identity`,
 * and its replica id in plain text) for every key the store does not hold yet.
 */
export function openCoordinatorMeta(dataDir: string, keystore: Keystore): CoordinatorMetaStore {
  const meta = CoordinatorMetaStore.open(dataDir, keystore);
  const legacy = readLegacyMeta(dataDir);
  const sealedIdentity = legacy.identity;
  if (meta.get('identity') === undefined && sealedIdentity !== undefined) {
    let secrets: Uint8Array;
    try {
      secrets = keystore.open('identity', sealedIdentity);
    } catch {
      throw unreadable(join(dataDir, legacyIdentityFileName), 'identity does not open');
    }
    meta.put('identity', secrets);
    secrets.fill(0);
  }
  const replicaId = legacy['replica-id'];
  if (meta.get('replica-id') === undefined && replicaId !== undefined) {
    if (!/^[\w.-]{1,128}$/.test(replicaId))
      throw unreadable(join(dataDir, legacyIdentityFileName), 'replica-id is malformed');
    meta.put('replica-id', utf8ToBytes(replicaId));
  }
  return meta;
}

/**
 * Identity keys from their 64 stored secret bytes (signing secret ‖ box secret), which are
 * wiped afterwards; stored bytes of another size are `QUORATE_E_KEYSTORE`.
 */
export function identityFromStoredSecrets(secrets: Uint8Array): IdentityKeys {
  if (secrets.length !== 64)
    throw new QuorateError('QUORATE_E_KEYSTORE', 'stored coordinator identity has the wrong size');
  const identity = identityFromSecrets(secrets.slice(0, 32), secrets.slice(32, 64));
  secrets.fill(0);
  return identity;
}

/** This data directory's identity keys, created (and sealed) on first start. */
export function loadLocalIdentity(meta: CoordinatorMetaStore, env: Env): IdentityKeys {
  const secrets = meta.get('identity');
  if (secrets !== undefined) return identityFromStoredSecrets(secrets);
  const identity = generateIdentity(env.randomBytes(64));
  const fresh = new Uint8Array(64);
  fresh.set(identity.signSecret, 0);
  fresh.set(identity.boxSecret, 32);
  meta.put('identity', fresh);
  fresh.fill(0);
  return identity;
}

/**
 * This data directory's replica id (its owner id in the store), created once: a restarted
 * replica is the same owner and takes its own sessions back at once; two data directories are
 * two replicas.
 */
export function loadReplicaId(meta: CoordinatorMetaStore, env: Env): string {
  const existing = meta.get('replica-id');
  if (existing !== undefined) return new TextDecoder().decode(existing);
  const id = `replica-${bytesToHex(env.randomBytes(6))}`;
  meta.put('replica-id', utf8ToBytes(id));
  return id;
}
