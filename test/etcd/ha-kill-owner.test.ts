/**
 * HA on a real 3-node etcd: kill -9 of the replica that owns in-flight sessions. Another
 * replica takes them over once the owner's lease expires (new attempt, higher token); each
 * ends signed or explicitly failed, and none is signed twice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalCluster } from '../../src/cli/local-cluster.ts';
import { EtcdCluster } from '../helpers/etcd-cluster.ts';
import {
  assertTokensIncrease,
  createWallet,
  joinSession,
  pollTerminal,
  startReplicas,
  verifies,
} from '../helpers/ha-cluster.ts';
import { faultyPartyEntry } from '../helpers/faulty-engine.ts';

const parties = ['p1', 'p2', 'p3'];
let etcd: EtcdCluster;
let cluster: LocalCluster;

before(async () => {
  etcd = await EtcdCluster.start(3);
  // Parties hold round 2 for 700 ms (under the 1 s round-deadline floor), so the owner dies
  // with its sessions in flight and the replica taking over can still finish them.
  const slow = faultyPartyEntry({ delaySignMs: 700 });
  cluster = await startReplicas(etcd, 3, parties, {
    partyEntries: { p1: slow, p2: slow, p3: slow },
  });
});

after(async () => {
  await cluster?.stop();
  await etcd?.stop();
});

test('kill -9 the owning replica mid-session: another replica ends every session, never signed twice', async () => {
  const { walletId, publicKey } = await createWallet(cluster, parties, 0);
  const requests = Array.from({ length: 4 }, (_, i) => ({
    intentKey: `kill-owner-${i}`,
    message: `${'ab'.repeat(16)}${String(i).padStart(2, '0')}`,
  }));
  // Opened on replica 0, which owns them; the in-flight waits die with it.
  const started = await Promise.all(
    requests.map((r) =>
      cluster.request(
        'POST',
        `/v1/wallets/${walletId}/signatures`,
        { message: r.message, intentKey: r.intentKey, waitMs: 150 },
        0,
      ),
    ),
  );
  for (const s of started) assert.equal(s.status, 202, 'still running when the owner dies');
  const sessionIds = started.map((s) => s.json['sessionId'] as string);
  const killedAt = Date.now();
  await cluster.kill('coordinator', 'SIGKILL');
  const finals = await Promise.all(
    sessionIds.map((id) => pollTerminal(cluster, id, [1, 2], killedAt + 40_000)),
  );
  const failoverMs = Date.now() - killedAt;
  for (const [i, final] of finals.entries()) {
    assert.ok(
      final['status'] === 'signed' || final['status'] === 'failed',
      `session ${i} terminal, got ${String(final['status'])}`,
    );
    const attempts = assertTokensIncrease(final);
    assert.ok(attempts.length >= 2, 'the taking-over replica opened a new attempt');
    assert.equal(attempts[0]?.outcome, 'aborted', "the dead owner's attempt was closed");
    if (final['status'] === 'signed') {
      assert.ok(verifies(publicKey, requests[i]!.message, final['signature'] as string));
      assert.equal(attempts.filter((a) => a.outcome === 'signed').length, 1, 'signed once');
    } else {
      assert.match(String((final['error'] as { code: string }).code), /^QUORATE_E_/);
    }
  }
  // Same intents again, on each surviving replica: the same sessions and signatures, no new one.
  for (const replica of [1, 2]) {
    for (const [i, r] of requests.entries()) {
      const again = await joinSession(
        cluster,
        walletId,
        { ...r, waitMs: 0 },
        [replica],
        Date.now() + 10_000,
      );
      assert.equal(again.sessionId, sessionIds[i]);
      if (finals[i]!['status'] === 'signed')
        assert.equal(again.answer.json['signature'], finals[i]!['signature']);
    }
  }
  // The killed replica comes back with its data dir: the sessions stay as they are.
  await cluster.startCoordinator(0);
  for (const [i, id] of sessionIds.entries()) {
    const r = await cluster.request('GET', `/v1/sessions/${id}`, undefined, 0);
    assert.equal(r.json['status'], finals[i]!['status'], JSON.stringify(r.json));
    assert.equal(r.json['signature'], finals[i]!['signature']);
  }
  console.log(
    JSON.stringify({
      failoverMs,
      outcomes: finals.map((f) => f['status']),
      attempts: finals.map((f) => (f['attempts'] as unknown[]).length),
    }),
  );
});
