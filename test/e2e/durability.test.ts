/**
 * Durability on real processes: kill -9 of the coordinator mid-session, and kill -9 of a party
 * between nonce issue and signature share.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LocalCluster, quoratePartyEntry } from '../../src/cli/local-cluster.ts';
import { faultyPartyEntry } from '../helpers/faulty-engine.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface NonceRow {
  commitment: string;
  session_id: string;
  attempt: number;
  state: string;
}

function readNonces(cluster: LocalCluster, partyId: string): NonceRow[] {
  const db = new Database(join(cluster.dataDir, 'parties', partyId, 'journal.sqlite'), {
    readonly: true,
    fileMustExist: true,
  });
  try {
    return db
      .prepare('SELECT commitment, session_id, attempt, state FROM nonces ORDER BY rowid')
      .all() as NonceRow[];
  } finally {
    db.close();
  }
}

async function pollSession(
  cluster: LocalCluster,
  sessionId: string,
  untilMs: number,
): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  while (Date.now() < untilMs) {
    const res = await cluster.request('GET', `/v1/sessions/${sessionId}`).catch(() => undefined);
    if (res?.status === 200) {
      last = res.json;
      if (last['status'] === 'signed' || last['status'] === 'failed') return last;
    }
    await sleep(100);
  }
  return last;
}

test('kill -9 the coordinator mid-session: after restart the session ends signed or explicitly failed, never lost or duplicated', async () => {
  const parties = ['p1', 'p2', 'p3'];
  // Parties hold round 2 for 1.5 s so the coordinator dies with the session in flight.
  const slow = faultyPartyEntry({ delaySignMs: 1500 });
  const cluster = new LocalCluster({ partyEntries: { p1: slow, p2: slow, p3: slow } });
  try {
    await cluster.startWithParties(parties);
    const wallet = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ed25519',
      threshold: 2,
      parties,
    });
    const walletId = wallet.json['walletId'] as string;
    const message = 'cafe'.repeat(8);
    const started = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message,
      intentKey: 'crash-1',
      waitMs: 300,
      deadlineMs: 45_000,
    });
    assert.equal(started.status, 202, 'still running when the coordinator is killed');
    const sessionId = started.json['sessionId'] as string;
    await cluster.kill('coordinator', 'SIGKILL');
    await cluster.startCoordinator();
    await cluster.waitForParties(parties);
    const final = await pollSession(cluster, sessionId, Date.now() + 50_000);
    assert.ok(
      final['status'] === 'signed' || final['status'] === 'failed',
      `terminal, got ${String(final['status'])}`,
    );
    const attempts = final['attempts'] as {
      attempt: number;
      token: number;
      outcome: string;
      reason?: string;
    }[];
    assert.ok(attempts.length >= 2, 'the restarted coordinator opened a new attempt');
    assert.equal(attempts[0]?.reason, 'coordinator restarted');
    for (let i = 1; i < attempts.length; i++)
      assert.ok(attempts[i]!.token > attempts[i - 1]!.token, 'fencing tokens increase');
    if (final['status'] === 'failed')
      assert.match(String((final['error'] as { code: string }).code), /^QUORATE_E_/);
    // Same intent again: the same session, not a second one.
    const again = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message,
      intentKey: 'crash-1',
      waitMs: 0,
    });
    assert.equal(again.json['sessionId'], sessionId);
    if (final['status'] === 'signed') assert.equal(again.json['signature'], final['signature']);
    // Every party consumed at most one nonce per attempt and never reused a commitment.
    for (const p of parties) {
      const rows = readNonces(cluster, p);
      const consumed = rows.filter((r) => r.state === 'consumed').map((r) => r.commitment);
      assert.equal(new Set(consumed).size, consumed.length);
      assert.equal(
        rows.filter((r) => r.state === 'issued').length,
        0,
        `${p} holds no issued nonce after the session ended`,
      );
    }
  } finally {
    await cluster.stop();
  }
});

test('kill -9 a party between nonce issue and share: after restart it never uses that nonce', async () => {
  const parties = ['n1', 'n2'];
  // n2 holds its commitment for 4 s, so n1 holds an issued nonce that long and never gets
  // round 2: n1 is killed between nonce issue and share. (A party spends its nonce durably
  // before it computes a share, so a slow share would show the nonce consumed, not issued.)
  const cluster = new LocalCluster({
    partyEntries: { n2: faultyPartyEntry({ delayCommitMs: 4000 }) },
  });
  try {
    await cluster.startWithParties(parties);
    const wallet = await cluster.request('POST', '/v1/wallets', {
      scheme: 'bip340',
      threshold: 2,
      parties,
    });
    const walletId = wallet.json['walletId'] as string;
    const res = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: '11'.repeat(32),
      intentKey: 'nonce-1',
      waitMs: 0,
    });
    const sessionId = res.json['sessionId'] as string;
    // Wait until n1 has issued its nonce (journal row), then kill it before it releases a share.
    let issued: NonceRow | undefined;
    for (let i = 0; i < 100 && !issued; i++) {
      issued = readNonces(cluster, 'n1').find(
        (r) => r.session_id === sessionId && r.state === 'issued',
      );
      if (!issued) await sleep(20);
    }
    assert.ok(issued, 'n1 issued a nonce');
    await cluster.kill('n1', 'SIGKILL');
    const failed = await pollSession(cluster, sessionId, Date.now() + 40_000);
    assert.equal(failed['status'], 'failed', 'with n1 gone the 2-of-2 session fails explicitly');
    assert.equal((failed['error'] as { code: string }).code, 'QUORATE_E_QUORUM_UNAVAILABLE');
    cluster.startParty('n1', quoratePartyEntry); // restarted as a plain party
    // n2 is restarted as a plain party too: a commitment held 4 s misses every round deadline.
    await cluster.kill('n2', 'SIGTERM');
    cluster.startParty('n2', quoratePartyEntry);
    await cluster.waitForParties(parties);
    const after = readNonces(cluster, 'n1');
    const old = after.find((r) => r.commitment === issued.commitment);
    assert.equal(old?.state, 'void', 'the lost nonce is void after restart');
    // Sign again: n1 commits a fresh nonce, never the old one.
    const next = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message: '22'.repeat(32),
      intentKey: 'nonce-2',
    });
    assert.equal(next.status, 200, JSON.stringify(next.json));
    const final = readNonces(cluster, 'n1');
    assert.equal(
      final.find((r) => r.commitment === issued.commitment)?.state,
      'void',
      'never consumed',
    );
    const consumed = final.filter((r) => r.state === 'consumed');
    assert.equal(consumed.length, 1);
    assert.notEqual(consumed[0]!.commitment, issued.commitment);
    assert.equal(
      new Set(final.map((r) => r.commitment)).size,
      final.length,
      'no commitment ever issued twice',
    );
  } finally {
    await cluster.stop();
  }
});
