/**
 * Issue 13 (cheaper coordination): a party handles each frame with all its journal writes in
 * one commit, and nothing that frame makes leaves before that commit returns. A sign-start
 * writes three things (the token, the intent lock, the nonce record): one commit, and the
 * round-1 answer only after it. A frame refused after a write still commits that write (an
 * observed token is never forgotten), and when the commit itself fails only a refusal leaves.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { sha256Hex } from '../../src/core/encoding.ts';
import { realEnv } from '../../src/core/env.ts';
import { MemoryJournal } from '../../src/party/journal-memory.ts';
import { SqliteJournal } from '../../src/party/journal-sqlite.ts';
import { PartyRuntime } from '../../src/party/runtime.ts';
import { coordinatorRole } from '../../src/protocol/engine.ts';
import { engines } from '../../src/protocol/frost.ts';
import { runKeygen } from '../../src/protocol/local-run.ts';
import { EnvelopeSender } from '../../src/transport/envelope.ts';
import { generateIdentity } from '../../src/transport/identity.ts';
import {
  buildEnvelopeFrame,
  buildProtocol,
  buildSignStart,
  validateEnvelopeFrame,
  type Envelope,
} from '../../src/transport/wire.ts';
import { faultyEngines } from '../helpers/faulty-engine.ts';
import { handshake, plainSealer, testRng as rng } from '../helpers/party-harness.ts';

const walletId = 'w_0000000000000000000000c1';
const message = utf8ToBytes('pay 1 to erin');
const keys = runKeygen('bip340', ['mobile', 'backend', 'guardian'], 2, rng).map((k) => ({
  ...k,
  walletId,
}));

/** A memory journal that counts commits and knows whether one is open. */
class CountingJournal extends MemoryJournal {
  commits = 0;
  open = false;
  writesInCommit = 0;
  failNextCommit = false;

  atomically(fn: () => void): void {
    this.open = true;
    try {
      fn();
    } finally {
      this.open = false;
    }
    if (this.failNextCommit) {
      this.failNextCommit = false;
      throw new Error('disk full');
    }
    this.commits += 1;
  }

  override observeToken(sessionId: string, token: number, nowMs: number): boolean {
    if (this.open) this.writesInCommit += 1;
    return super.observeToken(sessionId, token, nowMs);
  }

  override lockIntent(w: string, k: string, h: string, s: string) {
    if (this.open) this.writesInCommit += 1;
    return super.lockIntent(w, k, h, s);
  }

  override recordNonce(entry: Parameters<MemoryJournal['recordNonce']>[0]): boolean {
    if (this.open) this.writesInCommit += 1;
    return super.recordNonce(entry);
  }
}

function start(journal: CountingJournal, options: { delaySignMs?: number } = {}) {
  const env = realEnv({ logLevel: 'silent' });
  const share = keys.find((k) => k.partyId === 'mobile')!;
  journal.putSealedShare(walletId, plainSealer.seal('', utf8ToBytes(JSON.stringify(share))));
  const party = new PartyRuntime({
    partyId: 'mobile',
    env,
    journal,
    sealer: plainSealer,
    identity: generateIdentity(rng(64)),
    ...(options.delaySignMs === undefined
      ? {}
      : { engines: faultyEngines(engines, env, { delaySignMs: options.delaySignMs }) }),
  });
  const arrivals: { e: Envelope; commitOpen: boolean; commitsBefore: number }[] = [];
  const { coordSide, challenge, coordinator } = handshake(party, 'mobile', (frame) => {
    const checked = validateEnvelopeFrame(frame);
    if (checked.ok)
      arrivals.push({
        e: checked.value.e,
        commitOpen: journal.open,
        commitsBefore: journal.commits,
      });
  });
  const sender = new EnvelopeSender(
    coordinatorRole,
    'mobile',
    challenge.conn,
    coordinator.signSecret,
  );
  const signStart = (sessionId: string, token = 1) =>
    coordSide.send(
      buildEnvelopeFrame(
        sender.build(
          buildSignStart(
            { sessionId, attempt: 1, token },
            {
              walletId,
              intentKey: sessionId,
              messageHex: bytesToHex(message),
              messageHash: sha256Hex(message),
              signers: ['mobile', 'backend'],
              deadlineMs: Date.now() + 30_000,
              remainingMs: 30_000,
            },
          ),
        ),
      ),
    );
  /** Round 2 of `sessionId` with our commitment (the last one we sent) and backend's. */
  const roundTwo = (sessionId: string) => {
    const ours = arrivals.at(-1)!.e.body;
    const backend = engines.bip340
      .signer({
        key: keys.find((k) => k.partyId === 'backend')!,
        message,
        signers: ['mobile', 'backend'],
        rng,
        sealer: plainSealer,
      })
      .start().outgoing[0]!.payload;
    coordSide.send(
      buildEnvelopeFrame(
        sender.build(
          buildProtocol({ sessionId, attempt: 1, token: 1 }, 2, {
            commitments: { mobile: { hiding: ours['hiding'], binding: ours['binding'] }, backend },
          }),
        ),
      ),
    );
  };
  return { party, arrivals, signStart, roundTwo };
}

describe('a party commits each frame once, before anything it sends', () => {
  const journal = new CountingJournal(Date.now());
  const { party, arrivals, signStart } = start(journal);
  after(() => party.close());

  test('a sign-start: token, intent lock and nonce record in one commit, the answer after it', () => {
    const commits = journal.commits;
    signStart('s_one_commit_1');
    assert.equal(journal.commits, commits + 1, 'one commit for the whole frame');
    assert.equal(journal.writesInCommit, 3, 'token, intent lock and nonce record inside it');
    const answer = arrivals.at(-1);
    assert.equal(answer?.e.kind, 'protocol', 'the round-1 commitment was sent');
    assert.equal(answer?.commitOpen, false, 'not while the commit was open');
    assert.equal(answer?.commitsBefore, commits + 1, 'only after the commit returned');
  });

  test('a failed commit sends no commitment, only a refusal', () => {
    const before = arrivals.length;
    journal.failNextCommit = true;
    signStart('s_one_commit_2');
    const sent = arrivals.slice(before).map((a) => a.e.kind);
    assert.deepEqual(sent, ['refuse'], 'the commitment made under the failed commit never left');
  });
});

test('an asynchronous step whose nonce consumption failed to commit never sends its share', async () => {
  // Found by review: the consumption was rolled back with the failed commit, yet the session
  // lived on, and the share the engine was still computing left when it resolved.
  const journal = new CountingJournal(Date.now());
  const { party, arrivals, signStart, roundTwo } = start(journal, { delaySignMs: 20 });
  try {
    signStart('s_async_commit');
    assert.equal(arrivals.at(-1)?.e.kind, 'protocol', 'round 1 answered');
    const before = arrivals.length;
    journal.failNextCommit = true;
    roundTwo('s_async_commit');
    await new Promise((resolve) => setTimeout(resolve, 150));
    const sent = arrivals.slice(before).map((a) => (a.e.body['share'] ? 'share' : a.e.kind));
    assert.deepEqual(sent, ['refuse'], 'a refusal, and no share after it');
  } finally {
    party.close();
  }
});

/** Runs `fn` with the path of a journal file in a fresh temporary folder, removed after. */
function withJournalFile(fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-journal-'));
  try {
    fn(join(dir, 'journal.sqlite'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('SQLite: atomically is one transaction, kept when the work throws, nested calls join it', () =>
  withJournalFile((path) => {
    const j = new SqliteJournal(path, 1);
    assert.throws(
      () =>
        j.atomically(() => {
          assert.equal(j.observeToken('s1', 7, 2), true);
          j.atomically(() => j.lockIntent('w', 'k', 'h1', 's1'));
          throw new Error('refused after the token was observed');
        }),
      /refused after/,
    );
    j.close();
    const reopened = new SqliteJournal(path, 3);
    assert.equal(reopened.highestToken('s1'), 7, 'the observed token survived the throw');
    assert.deepEqual(reopened.lockIntent('w', 'k', 'h2', 's2'), {
      ok: false,
      lockedMessageHash: 'h1',
    });
    assert.equal(reopened.observeToken('s1', 7, 4), true, 'the same token is still fine');
    assert.equal(
      reopened.ops().filter((op) => op.op === 'observe').length,
      1,
      'observing the token on record writes nothing',
    );
    reopened.close();
  }));

test('SQLite: only a frame that ends memory-only secrets commits without a sync to disk', () =>
  withJournalFile((path) => {
    const j = new SqliteJournal(path, 1);
    // A sign-start's writes (token, intent lock, nonce record) are synced before it answers.
    j.atomically(() => {
      j.observeToken('s1', 1, 2);
      j.lockIntent('w', 'k', 'h1', 's1');
      j.recordNonce({ commitment: 'c1', sessionId: 's1', attempt: 1, token: 1, issuedMs: 2 });
    });
    assert.deepEqual([j.syncs, j.lazyCommits], [1, 0]);
    // Round 2 on an ungoverned wallet: the token and lock are on record; consuming the nonce
    // (whose secret was only ever in memory) is the one write.
    j.atomically(() => {
      j.observeToken('s1', 1, 3);
      j.lockIntent('w', 'k', 'h1', 's1');
      assert.equal(j.consumeNonce('c1', 3), true);
    });
    assert.deepEqual([j.syncs, j.lazyCommits], [1, 1]);
    // A discard, and a discard of nothing.
    j.atomically(() =>
      j.recordNonce({ commitment: 'c2', sessionId: 's2', attempt: 1, token: 1, issuedMs: 4 }),
    );
    j.atomically(() => assert.equal(j.discardNonces('s2', 5), 1));
    j.atomically(() => assert.equal(j.discardNonces('s2', 6), 0));
    assert.deepEqual([j.syncs, j.lazyCommits], [2, 3]);
    // Round 2 of a governed wallet records its spend (a meta value): synced.
    j.atomically(() => j.setMeta('velocity:w', '[]'));
    // A raised token in a discard: synced.
    j.atomically(() => j.discardNonces('s3', 7, undefined) + Number(j.observeToken('s3', 9, 7)));
    assert.deepEqual([j.syncs, j.lazyCommits], [4, 3]);
    j.close();
    // Unsynced is not uncommitted: a process that stops keeps every commit (the WAL is in the
    // operating system's cache); only a machine that loses power can lose the last lazy ones.
    const reopened = new SqliteJournal(path, 8);
    assert.deepEqual(
      reopened.nonces().map((n) => [n.commitment, n.state]),
      [
        ['c1', 'consumed'],
        ['c2', 'discarded'],
      ],
    );
    assert.equal(reopened.highestToken('s3'), 9);
    assert.equal(reopened.getMeta('velocity:w'), '[]');
    reopened.close();
  }));

test('SQLite: a frame whose sync to disk fails closes the journal', () =>
  withJournalFile((path) => {
    const j = new SqliteJournal(path, 1);
    // A second connection makes the sync's one-row write fail, as a failing disk would.
    const other = new Database(path);
    other.exec(
      "CREATE TRIGGER fail_sync BEFORE INSERT ON meta WHEN NEW.key = 'journal-syncs' BEGIN SELECT RAISE(ABORT, 'disk gone'); END;",
    );
    other.close();
    assert.throws(() => j.atomically(() => j.observeToken('s1', 5, 2)), /disk gone/);
    assert.equal(j.syncs, 0);
    // Closed: everything after it throws, so the party refuses rather than acting on writes
    // that may not be on disk.
    assert.throws(() => j.highestToken('s1'), /not open/);
    assert.throws(() => j.atomically(() => j.lockIntent('w', 'k', 'h', 's1')), /not open/);
  }));
