/**
 * The coordinator's own sealed metadata store (src/coordinator/meta-store.ts): identity and
 * replica id survive a restart, values are sealed and bound to their key, a damaged file is a
 * clear error, and a data directory written before the store existed (identity and replica id
 * in identity.sqlite) keeps its coordinator key when the coordinator starts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { bytesToHex } from '@noble/hashes/utils.js';
import { WebSocket } from 'ws';
import { principalFromToken } from '../../src/api/principals.ts';
import { startCoordinatorNode } from '../../src/cli/coordinator-node.ts';
import {
  coordinatorMetaFileName,
  CoordinatorMetaStore,
  legacyIdentityFileName,
  loadLocalIdentity,
  loadReplicaId,
  openCoordinatorMeta,
} from '../../src/coordinator/meta-store.ts';
import { realEnv } from '../../src/core/env.ts';
import { QuorateError } from '../../src/core/errors.ts';
import { Keystore } from '../../src/store/keystore.ts';
import { generateIdentity } from '../../src/transport/identity.ts';
import { partyWsPath } from '../../src/transport/link.ts';

const env = realEnv({ logLevel: 'silent' });
const passphrase = 'correct horse battery staple';
const root = mkdtempSync(join(tmpdir(), 'quorate-meta-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => mkdtempSync(join(root, `d${dirs++}-`));

const isKeystoreError = (error: unknown) =>
  error instanceof QuorateError && error.code === 'QUORATE_E_KEYSTORE';

/** Writes identity.sqlite as coordinators before the meta store did (a journal's meta table). */
function writeLegacyDataDir(
  dir: string,
  keystore: Keystore,
  secrets: Uint8Array,
  replicaId: string,
) {
  const db = new Database(join(dir, legacyIdentityFileName));
  try {
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    put.run('identity', keystore.seal('identity', secrets));
    put.run('replica-id', replicaId);
  } finally {
    db.close();
  }
}

/** The coordinator key a party is challenged with on connecting. */
async function challengedKey(url: string): Promise<string> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}${partyWsPath}`);
  try {
    const frame = await new Promise<unknown>((resolve, reject) => {
      socket.once('message', (data: Buffer) => resolve(JSON.parse(data.toString('utf8'))));
      socket.once('error', reject);
    });
    assert.ok(typeof frame === 'object' && frame !== null && 'coordinatorKey' in frame);
    return String(frame.coordinatorKey);
  } finally {
    socket.terminate();
  }
}

async function startAndReadKey(dir: string): Promise<string> {
  const node = await startCoordinatorNode(env, {
    host: '127.0.0.1',
    port: 0,
    dataDir: dir,
    principals: [principalFromToken('default', 'a'.repeat(32))],
    passphrase,
  });
  try {
    return await challengedKey(node.url);
  } finally {
    await node.stop();
  }
}

describe('coordinator meta store', () => {
  test('identity and replica id are created once and the same after reopening', () => {
    const dir = freshDir();
    const keystore = Keystore.open(dir, passphrase, env.randomBytes);
    const first = openCoordinatorMeta(dir, keystore);
    const identity = loadLocalIdentity(first, env);
    const replicaId = loadReplicaId(first, env);
    assert.match(replicaId, /^replica-[0-9a-f]{12}$/);
    const again = openCoordinatorMeta(dir, Keystore.open(dir, passphrase, env.randomBytes));
    assert.deepEqual(loadLocalIdentity(again, env).signPublic, identity.signPublic);
    assert.deepEqual(loadLocalIdentity(again, env).boxPublic, identity.boxPublic);
    assert.equal(loadReplicaId(again, env), replicaId);
    const text = readFileSync(join(dir, coordinatorMetaFileName), 'utf8');
    assert.ok(!text.includes(replicaId), 'values are sealed, not stored in plain text');
    assert.ok(!text.includes(bytesToHex(identity.signSecret)));
  });

  test('a value moved under another key does not open; a damaged file is QUORATE_E_KEYSTORE', () => {
    const dir = freshDir();
    const keystore = Keystore.open(dir, passphrase, env.randomBytes);
    const meta = openCoordinatorMeta(dir, keystore);
    loadLocalIdentity(meta, env);
    loadReplicaId(meta, env);
    const path = join(dir, coordinatorMetaFileName);
    const file = JSON.parse(readFileSync(path, 'utf8')) as { values: Record<string, string> };
    const swapped = { version: 1, values: { identity: file.values['replica-id'] } };
    writeFileSync(path, JSON.stringify(swapped));
    assert.throws(() => CoordinatorMetaStore.open(dir, keystore).get('identity'), isKeystoreError);
    for (const damaged of [
      '{',
      '[]',
      '{"version":2,"values":{}}',
      '{"version":1,"values":{"x":"00"}}',
    ]) {
      writeFileSync(path, damaged);
      assert.throws(() => CoordinatorMetaStore.open(dir, keystore), isKeystoreError, damaged);
    }
  });

  test('a data dir written the old way starts with the same coordinator key and replica id', async () => {
    const dir = freshDir();
    const keystore = Keystore.open(dir, passphrase, env.randomBytes);
    const secrets = env.randomBytes(64);
    const old = generateIdentity(secrets);
    writeLegacyDataDir(dir, keystore, secrets, 'replica-0a1b2c3d4e5f');
    assert.equal(await startAndReadKey(dir), bytesToHex(old.signPublic));
    const meta = CoordinatorMetaStore.open(dir, Keystore.open(dir, passphrase, env.randomBytes));
    assert.equal(loadReplicaId(meta, env), 'replica-0a1b2c3d4e5f');
    // Taken over: the meta store alone now carries the identity.
    rmSync(join(dir, legacyIdentityFileName));
    assert.equal(await startAndReadKey(dir), bytesToHex(old.signPublic));
  });

  test('a fresh data dir keeps the key it created across restarts', async () => {
    const dir = freshDir();
    const first = await startAndReadKey(dir);
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.equal(await startAndReadKey(dir), first);
    assert.notEqual(await startAndReadKey(freshDir()), first, 'another data dir, another key');
  });
});
