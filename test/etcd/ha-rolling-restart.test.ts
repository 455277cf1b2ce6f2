/**
 * HA on a real 3-node etcd: a rolling restart (SIGTERM, start again) of every coordinator
 * replica while clients keep signing. A stopping replica revokes its lease and fails its
 * in-flight requests with a retryable code; the client retries on another replica with the
 * same intent. No request is lost: each ends signed or explicitly failed, none is left
 * non-terminal, and no intent is signed twice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalCluster } from '../../src/cli/local-cluster.ts';
import { EtcdCluster } from '../helpers/etcd-cluster.ts';
import {
  createWallet,
  pollTerminal,
  signWithRetry,
  startReplicas,
  verifies,
  type ClientOutcome,
} from '../helpers/ha-cluster.ts';
import { faultyPartyEntry } from '../helpers/faulty-engine.ts';

const parties = ['p1', 'p2', 'p3'];
const replicas = 3;
const requestCount = 40;
const requestSpacingMs = 250;
let etcd: EtcdCluster;
let cluster: LocalCluster;

before(async () => {
  etcd = await EtcdCluster.start(3);
  // Round 2 takes 400 ms at each party, so restarts land on requests in flight.
  const slow = faultyPartyEntry({ delaySignMs: 400 });
  cluster = await startReplicas(etcd, replicas, parties, {
    partyEntries: { p1: slow, p2: slow, p3: slow },
  });
});

after(async () => {
  await cluster?.stop();
  await etcd?.stop();
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

test('rolling restart of every replica under load: no request lost, none signed twice', async () => {
  const { walletId, publicKey } = await createWallet(cluster, parties, 0);
  const down = new Set<number>();
  const live = () => [0, 1, 2].filter((i) => !down.has(i));
  const untilMs = Date.now() + 90_000;
  const load = (async () => {
    const pending: Promise<ClientOutcome>[] = [];
    for (let i = 0; i < requestCount; i++) {
      const message = `${'cd'.repeat(16)}${i.toString(16).padStart(4, '0')}`;
      pending.push(signWithRetry(cluster, walletId, `roll-${i}`, message, live, untilMs));
      await sleep(requestSpacingMs);
    }
    return Promise.all(pending);
  })();
  for (let i = 0; i < replicas; i++) {
    await sleep(1_500);
    down.add(i);
    await cluster.kill(LocalCluster.replicaName(i), 'SIGTERM');
    await cluster.startCoordinator(i);
    await cluster.waitForParties(parties, 'alive', 30_000, i);
    down.delete(i);
  }
  const outcomes = await load;
  const lost = outcomes.filter((o) => o.status === 'lost');
  assert.deepEqual(lost, [], 'every request ended signed or explicitly failed');
  for (const o of outcomes) {
    assert.ok(o.sessionId, `request ${o.intentKey} has a session`);
    if (o.status === 'signed') assert.ok(verifies(publicKey, o.messageHex, o.signature!));
    else assert.match(o.code ?? '', /^QUORATE_E_/);
    // The stored session is terminal and agrees with what the client was told.
    const stored = await pollTerminal(cluster, o.sessionId, [0, 1, 2], Date.now() + 5_000);
    assert.ok(stored['status'] === 'signed' || stored['status'] === 'failed');
    if (o.status === 'signed') assert.equal(stored['signature'], o.signature);
    const attempts = stored['attempts'] as { outcome: string }[];
    assert.ok(attempts.filter((a) => a.outcome === 'signed').length <= 1, 'signed at most once');
  }
  assert.equal(new Set(outcomes.map((o) => o.sessionId)).size, requestCount, 'one session each');
  console.log(
    JSON.stringify({
      signed: outcomes.filter((o) => o.status === 'signed').length,
      failed: outcomes.filter((o) => o.status === 'failed').map((o) => o.code),
      retried: outcomes.filter((o) => o.retries.length > 0).length,
      retries: outcomes.flatMap((o) => o.retries),
    }),
  );
});
