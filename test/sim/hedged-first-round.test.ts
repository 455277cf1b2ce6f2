/**
 * Issue 13 part 2 on the simulator's virtual clock (the real coordinator and party runtimes):
 * a party of the quorum cut silently (no FIN: frames held, like a partition) just before a
 * request no longer costs a round deadline. The hedged first round asked one extra party, the
 * first t that answered signed in the first attempt, and the cut party holds no nonce of the
 * session (its sign-start never arrived). Latency is simulated time, never wall-clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytesToHex } from '@noble/hashes/utils.js';
import { limits } from '../../src/core/limits.ts';
import type { NonceEntry, PartyJournal } from '../../src/party/journal.ts';
import type { SessionRecord } from '../../src/session/record.ts';
import { deploy } from '../../src/sim/deploy.ts';
import { cleanFault } from '../../src/sim/network.ts';

/** Signs `messageHex` under `intentKey`; resolves with the final record and its virtual latency. */
async function timedSign(
  d: Awaited<ReturnType<typeof deploy>>,
  intentKey: string,
): Promise<{ record: SessionRecord; ms: number }> {
  const coordinator = d.cluster.coordinator;
  assert.ok(coordinator, 'the coordinator runs');
  const startMs = d.scheduler.nowMs;
  let done: SessionRecord | undefined;
  let doneMs = 0;
  void coordinator
    .sign(d.wallet.walletId, {
      messageHex: bytesToHex(new TextEncoder().encode(intentKey)),
      intentKey,
    })
    .then((r) => coordinator.waitForSession(r.sessionId, limits.sessionDeadlineMsDefault))
    .then((r) => {
      done = r;
      doneMs = d.scheduler.nowMs;
    });
  for (let step = 0; step < 600 && done === undefined; step++)
    await d.scheduler.runUntil(d.scheduler.nowMs + 50);
  assert.ok(done, 'the request reached a terminal status');
  return { record: done, ms: doneMs - startMs };
}

test('a silently cut quorum party costs no round deadline: signed in the first attempt', async () => {
  const d = await deploy({ seed: 11, kind: 'none', scheme: 'ed25519', governed: false });
  // Warm up: RTTs known, every party healthy; the quorum the coordinator prefers now.
  const warm = await timedSign(d, 'warm-up');
  assert.equal(warm.record.status, 'signed');
  const preferred = warm.record.attempts[0]?.parties ?? [];
  const cut = preferred[0];
  assert.ok(cut !== undefined, 'a quorum was chosen');

  // Cut that party silently in both directions (held frames, no FIN), then ask at once.
  for (const dir of ['up', 'down'] as const)
    d.network.setFault(cut, dir, { ...cleanFault(), blocked: true, hold: true });
  const { record, ms } = await timedSign(d, 'just-after-the-cut');

  assert.equal(record.status, 'signed', JSON.stringify(record.error));
  assert.equal(record.attempts.length, 1, 'no second attempt was needed');
  assert.ok(!record.signers?.includes(cut), 'the cut party did not sign');
  assert.equal(record.signers?.length, d.threshold);
  assert.ok(
    ms < limits.roundTimeoutMsFloor,
    `signed in ${ms} ms of virtual time, under the ${limits.roundTimeoutMsFloor} ms round floor`,
  );
  const [attempt] = record.attempts;
  assert.ok(attempt?.asked?.includes(cut), 'the cut party was asked (it was in the quorum)');
  assert.deepEqual(attempt?.parties, record.signers, "the attempt's parties are its signers");

  // The parties asked and not chosen discard their nonces: none holds one a moment later.
  await d.scheduler.runUntil(d.scheduler.nowMs + 1_000);
  for (const partyId of d.partyIds) {
    if (partyId === cut) continue;
    const journal: PartyJournal = d.cluster.mustParty(partyId).journal;
    const held = journal.nonces().filter((n: NonceEntry) => n.state === 'issued');
    assert.deepEqual(held, [], `${partyId} holds no issued nonce`);
  }
});
