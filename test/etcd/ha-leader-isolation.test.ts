/**
 * HA on a real 3-node etcd whose members run in their own network namespaces: the etcd
 * leader is isolated from its peers with iptables (needs root; CI runs as root, elsewhere this
 * test fails with a clear message, it does not skip). Each coordinator replica talks to one
 * member only, so the replica attached to the old leader is on the minority side: it can still
 * reach its member, and the parties and the client can still reach it, but its member can no
 * longer commit. That replica must fail its in-flight requests explicitly (retryable); the
 * other replicas take the sessions over and finish them; no intent gets two different
 * signatures in any replica's view. After healing, the minority replica serves again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalCluster } from '../../src/cli/local-cluster.ts';
import { NetnsEtcdCluster } from '../helpers/netns-etcd.ts';
import {
  assertTokensIncrease,
  createWallet,
  haLeaseTtlMs,
  joinSession,
  pollTerminal,
  verifies,
  assertExplicitMinorityFailures,
} from '../helpers/ha-cluster.ts';
import { faultyPartyEntry } from '../helpers/faulty-engine.ts';

const parties = ['p1', 'p2', 'p3'];
let etcd: NetnsEtcdCluster | undefined;
let cluster: LocalCluster | undefined;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** The minority replica must answer every in-flight request within this (lease ttl + slack). */
const explicitFailureMsMax = 15_000;

before(async () => {
  etcd = await NetnsEtcdCluster.start(3);
  const slow = faultyPartyEntry({ delaySignMs: 700 });
  const c = new LocalCluster({
    replicas: 3,
    partyEntries: { p1: slow, p2: slow, p3: slow },
    coordinatorArgs: ['--lease-ttl-ms', String(haLeaseTtlMs)],
    coordinatorArgsFor: (i) => ['--store', etcd!.urlOf(i)],
  });
  cluster = c;
  await c.startCoordinators();
  for (const p of parties) c.startParty(p);
  for (let i = 0; i < 3; i++) await c.waitForParties(parties, 'alive', 30_000, i);
});

after(async () => {
  await cluster?.stop();
  await etcd?.stop();
});

test('an isolated etcd leader: its replica fails in-flight requests explicitly, no conflicting signatures', async () => {
  const c = cluster!;
  const e = etcd!;
  const leader = await e.leaderIndex();
  const others = [0, 1, 2].filter((i) => i !== leader);
  const { walletId, publicKey } = await createWallet(c, parties, leader);
  const requests = Array.from({ length: 3 }, (_, i) => ({
    intentKey: `iso-${i}`,
    message: `${'ab'.repeat(16)}${String(i).padStart(2, '0')}`,
  }));
  const sign = (r: (typeof requests)[number], replica: number) =>
    c.request(
      'POST',
      `/v1/wallets/${walletId}/signatures`,
      { message: r.message, intentKey: r.intentKey, waitMs: 20_000 },
      replica,
    );
  const inFlight = requests.map((r) => sign(r, leader));
  // Every session created and started on the leader's replica, none finished (700 ms delay).
  await sleep(400);
  await e.isolate(leader);
  const cutAt = Date.now();
  const answers = await Promise.all(inFlight);
  const answeredMs = Date.now() - cutAt;
  assert.ok(answeredMs < explicitFailureMsMax, `minority replica answered in ${answeredMs} ms`);
  assertExplicitMinorityFailures(answers, 'the leader was isolated');

  // The majority side: a new etcd leader among the others; the client retries there.
  const sessionIds: string[] = [];
  const signatures = new Map<string, Set<string>>();
  const note = (intentKey: string, signature: unknown) => {
    if (typeof signature !== 'string') return;
    const set = signatures.get(intentKey) ?? new Set<string>();
    set.add(signature);
    signatures.set(intentKey, set);
  };
  for (const [i, r] of requests.entries()) {
    if (answers[i]!.status === 200) note(r.intentKey, answers[i]!.json['signature']);
    const { sessionId } = await joinSession(c, walletId, r, others, Date.now() + 10_000);
    sessionIds.push(sessionId);
    const final = await pollTerminal(c, sessionId, others, Date.now() + 30_000);
    assert.ok(final['status'] === 'signed' || final['status'] === 'failed', JSON.stringify(final));
    assertTokensIncrease(final);
    note(r.intentKey, final['signature']);
    if (final['status'] === 'signed')
      assert.ok(verifies(publicKey, r.message, final['signature'] as string));
  }

  // Heal: the old leader rejoins as a follower; its replica gets a new lease and serves again.
  await e.heal(leader);
  await e.waitAllHealthy();
  let served: { status: number; json: Record<string, unknown> } | undefined;
  for (let i = 0; i < 75; i++) {
    served = await c
      .request(
        'POST',
        `/v1/wallets/${walletId}/signatures`,
        { message: `${'34'.repeat(16)}`, intentKey: 'after-heal', waitMs: 20_000 },
        leader,
      )
      .catch(() => undefined);
    if (served?.status === 200) break;
    await sleep(200);
  }
  assert.equal(served?.status, 200, JSON.stringify(served?.json));
  assert.ok(verifies(publicKey, '34'.repeat(16), served.json['signature'] as string));

  // Every replica's view, the minority one included: at most one signature per intent.
  for (const [i, id] of sessionIds.entries()) {
    for (const replica of [0, 1, 2]) {
      const view = await c.request('GET', `/v1/sessions/${id}`, undefined, replica);
      assert.equal(view.status, 200, JSON.stringify(view.json));
      note(requests[i]!.intentKey, view.json['signature']);
    }
  }
  for (const r of requests) {
    const seen = [...(signatures.get(r.intentKey) ?? [])];
    assert.ok(seen.length <= 1, `intent ${r.intentKey} has conflicting signatures: ${seen}`);
    for (const s of seen) assert.ok(verifies(publicKey, r.message, s));
  }
  console.log(
    JSON.stringify({
      leader,
      answeredMs,
      answers: answers.map((a) => a.status),
      signatures: [...signatures].map(([k, v]) => [k, v.size]),
    }),
  );
});
