/**
 * Issue 12 finding 8: a data directory that already exists (made by hand, by an older version,
 * under a loose umask) kept its mode, so the party's journal.sqlite and the coordinator's
 * store could be world-readable. Both nodes now restrict the directory to 0700 and its files to
 * 0600 at every start, and refuse a directory that belongs to another user.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { principalFromToken } from '../../src/api/principals.ts';
import { startCoordinatorNode } from '../../src/cli/coordinator-node.ts';
import { realEnv } from '../../src/core/env.ts';
import { QuorateError } from '../../src/core/errors.ts';
import { startPartyNode } from '../../src/party/node.ts';

const env = realEnv({ logLevel: 'silent' });
const passphrase = 'data dir mode test passphrase';
const root = mkdtempSync(join(tmpdir(), 'quorate-datadir-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A data directory as a careless operator left it: group- and world-readable, with a file. */
function looseDir(name: string): string {
  const made = mkdtempSync(join(root, `${name}-`));
  chmodSync(made, 0o755);
  writeFileSync(join(made, 'notes.txt'), 'left here by hand', { mode: 0o644 });
  return made;
}

function assertOwnerOnly(dir: string): void {
  assert.equal(statSync(dir).mode & 0o777, 0o700, `${dir} is not 0700`);
  for (const name of readdirSync(dir)) {
    const mode = statSync(join(dir, name)).mode & 0o777;
    assert.equal(mode & 0o077, 0, `${name} is readable by others (mode ${mode.toString(8)})`);
  }
}

test('a party restricts an existing data directory and its journal to its owner', () => {
  const dir = looseDir('party');
  const node = startPartyNode(env, {
    partyId: 'mobile',
    coordinatorUrl: 'ws://127.0.0.1:9',
    dataDir: dir,
    passphrase,
  });
  node.stop();
  assert.ok(readdirSync(dir).includes('journal.sqlite'));
  assertOwnerOnly(dir);
});

test('a coordinator restricts an existing data directory and its store to its owner', async () => {
  const dir = looseDir('coordinator');
  const node = await startCoordinatorNode(env, {
    host: '127.0.0.1',
    port: 0,
    dataDir: dir,
    principals: [principalFromToken('default', 'a'.repeat(32))],
    passphrase,
  });
  await node.stop();
  assert.ok(readdirSync(dir).includes('store.sqlite'));
  assertOwnerOnly(dir);
});

test('a data directory owned by another user is refused with QUORATE_E_CONFIG', (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to give a directory to another user');
  const dir = looseDir('foreign');
  chownSync(dir, 65534, 65534);
  assert.throws(
    () =>
      startPartyNode(env, {
        partyId: 'mobile',
        coordinatorUrl: 'ws://127.0.0.1:9',
        dataDir: dir,
        passphrase,
      }),
    (error) => error instanceof QuorateError && error.code === 'QUORATE_E_CONFIG',
  );
  return undefined;
});
