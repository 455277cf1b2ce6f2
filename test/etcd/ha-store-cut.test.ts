/**
 * HA on a real 3-node etcd: a replica that cannot renew its lease. Each replica talks to one
 * etcd member only; SIGSTOP of replica 0's member (no network namespaces needed) leaves it
 * unable to reach the store while replicas 1 and 2 keep a quorum. Replica 0 must stop driving
 * its sessions and fail its in-flight requests explicitly; the others take the sessions over
 * and finish them; no intent gets a second, conflicting signature. After SIGCONT replica 0
 * acquires a new lease and serves again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalCluster } from '../../src/cli/local-cluster.ts';
import { EtcdCluster } from '../helpers/etcd-cluster.ts';
import {
  assertTokensIncrease,
  createWallet,
  haLeaseTtlMs,
  joinSession,
  pollTerminal,
  startReplicas,
  verifies,
  assertExplicitMinorityFailures,
} from '../helpers/ha-cluster.ts';
import { faultyPartyEntry } from '../helpers/faulty-engine.ts';

const parties = ['p1', 'p2', 'p3'];
let etcd: EtcdCluster;
let cluster: LocalCluster;

before(async () => {
  etcd = await EtcdCluster.start(3);
  const slow = faultyPartyEntry({ delaySignMs: 700 });
  cluster = await startReplicas(etcd, 3, parties, {
    partyEntries: { p1: slow, p2: slow, p3: slow },
    coordinatorArgs: ['--lease-ttl-ms', String(haLeaseTtlMs)],
    coordinatorArgsFor: (i) => [
      '--store',
      `etcd://${etcd.members[i]!.clientUrl.replace('http://', '')}`,
    ],
  });
});

after(async () => {
  const pid = etcd?.members[0]?.process?.pid;
  if (pid !== undefined) process.kill(pid, 'SIGCONT');
  await cluster?.stop();
  await etcd?.stop();
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

test('a replica cut off from etcd fails its in-flight requests explicitly; another replica finishes them', async () => {
  const { walletId, publicKey } = await createWallet(cluster, parties, 1);
  const requests = Array.from({ length: 3 }, (_, i) => ({
    intentKey: `cut-${i}`,
    message: `${'ef'.repeat(16)}${String(i).padStart(2, '0')}`,
  }));
  const inFlight = requests.map((r) =>
    cluster.request(
      'POST',
      `/v1/wallets/${walletId}/signatures`,
      { message: r.message, intentKey: r.intentKey, waitMs: 20_000 },
      0,
    ),
  );
  // Long enough for replica 0 to have created and started every session even on a loaded
  // machine, well short of the parties' 700 ms round-2 delay, so none can finish before the cut.
  await sleep(400);
  const memberPid = etcd.members[0]!.process!.pid!;
  process.kill(memberPid, 'SIGSTOP');
  const cutAt = Date.now();
  const answers = await Promise.all(inFlight);
  const answeredMs = Date.now() - cutAt;
  assertExplicitMinorityFailures(answers, 'the store was cut');
  const sessionIds: string[] = [];
  let retriesWithoutSession = 0;
  for (const [i, r] of requests.entries()) {
    // The client retries on the healthy replicas, as a careful wallet backend does, until an
    // answer names the session: an answer without one (e.g. from a replica that briefly lost
    // its own lease while etcd elected a new leader) is retryable and retried, bounded. The
    // same intent joins the same session.
    const joined = await joinSession(
      cluster,
      walletId,
      r,
      [1 + (i % 2), 2 - (i % 2)],
      Date.now() + 40_000,
    );
    const sessionId = joined.sessionId;
    retriesWithoutSession += joined.retries;
    sessionIds.push(sessionId);
    const final = await pollTerminal(cluster, sessionId, [1, 2], Date.now() + 30_000);
    assert.ok(
      final['status'] === 'signed' || final['status'] === 'failed',
      `answers ${joined.seen.join(' | ')}; last poll ${JSON.stringify(final)}`,
    );
    assertTokensIncrease(final);
    if (final['status'] === 'signed') {
      assert.ok(verifies(publicKey, r.message, final['signature'] as string));
      const first = answers[i]!;
      if (first.status === 200) assert.equal(first.json['signature'], final['signature']);
    }
  }
  // Heal: replica 0 gets a new lease and serves again, agreeing with the store.
  process.kill(memberPid, 'SIGCONT');
  await etcd.waitAllHealthy();
  let served: { status: number; json: Record<string, unknown> } | undefined;
  for (let i = 0; i < 50; i++) {
    served = await cluster.request(
      'POST',
      `/v1/wallets/${walletId}/signatures`,
      { message: `${'12'.repeat(16)}`, intentKey: 'after-heal', waitMs: 20_000 },
      0,
    );
    if (served.status !== 503) break;
    await sleep(200);
  }
  assert.equal(served?.status, 200, JSON.stringify(served?.json));
  for (const id of sessionIds) {
    const r0 = await cluster.request('GET', `/v1/sessions/${id}`, undefined, 0);
    const r1 = await cluster.request('GET', `/v1/sessions/${id}`, undefined, 1);
    assert.equal(r0.json['signature'], r1.json['signature']);
  }
  console.log(
    JSON.stringify({
      answeredMs,
      answers: answers.map((a) => a.status),
      retriesWithoutSession,
    }),
  );
});
