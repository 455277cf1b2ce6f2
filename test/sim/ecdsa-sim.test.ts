/**
 * The simulator runs `ecdsa` wallets: the real DKLs23 engine in every party (one fresh instance
 * per party process, seeded by its node's Env), digests and EVM transactions competing for
 * account nonces, the same nemeses, and the same checker with N1 (one transaction content per
 * nonce slot). A seed replays byte for byte, and N1 catches a second transaction on a slot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Transaction } from 'micro-eth-signer';
import { checkRun } from '../../src/checker/check.ts';
import type { CheckInput, StoredSession } from '../../src/checker/types.ts';
import { decodeEvmTransaction } from '../../src/protocol/evm-transaction.ts';
import { runCampaign } from '../../src/sim/campaign.ts';
import { runSeed } from '../../src/sim/run-seed.ts';

const signCodes = (history: { f: string; type: string; value: object }[], type: string) =>
  history
    .filter((e) => e.f === 'sign' && e.type === type)
    .map((e) => (e.value as { code?: string }).code ?? 'ok');

test('an ecdsa seed signs digests and transactions, refuses a taken nonce, and replays exactly', async () => {
  const a = await runSeed({ seed: 4, scheme: 'ecdsa' });
  const b = await runSeed({ seed: 4, scheme: 'ecdsa' });
  assert.equal(a.scheme, 'ecdsa');
  assert.deepEqual(a.report.violations, []);
  assert.equal(JSON.stringify(a.history), JSON.stringify(b.history), 'history replays');
  assert.equal(JSON.stringify(a.input), JSON.stringify(b.input), 'journals and store replay');
  const signedTx = a.input.sessions.filter((s) => s.status === 'signed' && s.transaction);
  const signedDigests = a.input.sessions.filter((s) => s.status === 'signed' && !s.transaction);
  assert.ok(signedTx.length >= 2, 'transactions signed');
  assert.ok(signedDigests.length >= 2, 'digests signed');
  assert.ok(
    signCodes(a.history, 'fail').includes('QUORATE_E_NONCE_TAKEN'),
    'a conflicting transaction was refused for its taken nonce',
  );
  // The engine's one-time secrets are per party: the journals consumed one per signer and run.
  const consumed = a.input.journals.flatMap((j) =>
    j.nonces.filter((n) => n.state === 'consumed').map((n) => n.commitment),
  );
  assert.ok(consumed.length > 0 && consumed.every((c) => c.startsWith('dkls23-sign:')));
  assert.equal(new Set(consumed).size, consumed.length);
});

/** Whole coins (exact decimal) in wei. */
function weiOf(coins: string): bigint {
  const [whole = '0', fraction = ''] = coins.split('.');
  return BigInt(whole) * 10n ** 18n + BigInt(fraction.padEnd(18, '0'));
}

/** A signed session for `base`'s slot with another transfer (or, `speedUp`, only another fee). */
function sameSlot(base: StoredSession, speedUp: boolean): StoredSession {
  const { facts } = decodeEvmTransaction(base.transaction!);
  const common = {
    nonce: BigInt(facts.nonce),
    chainId: BigInt(facts.chainId),
    value: speedUp ? weiOf(facts.amount) : 7n,
    to: speedUp ? facts.destination! : '0x3333333333333333333333333333333333333333',
  };
  const prepared =
    base.transaction!.type === 'legacy'
      ? Transaction.prepare({ type: 'legacy', ...common, gasPrice: 99n * 10n ** 9n })
      : Transaction.prepare({ ...common, maxFeePerGas: 99n * 10n ** 9n });
  const hex = prepared.toHex({ includeSignature: false });
  return {
    ...base,
    sessionId: `s_${speedUp ? 'speedup' : 'conflict'}`,
    intentKey: 'evm-injected',
    transaction: { type: base.transaction!.type, hex },
  };
}

test('N1: a second transaction signed for a taken nonce fails; a speed-up does not', async () => {
  const { input } = await runSeed({ seed: 4, scheme: 'ecdsa' });
  const base = input.sessions.find((s) => s.status === 'signed' && s.transaction)!;
  const withSession = (s: StoredSession): CheckInput => ({
    ...structuredClone(input),
    sessions: [...input.sessions, s],
  });
  const conflict = checkRun(withSession(sameSlot(base, false))).violations;
  assert.deepEqual(
    conflict.map((v) => v.invariant),
    ['N1'],
  );
  const speedUp = sameSlot(base, true);
  assert.equal(
    decodeEvmTransaction(speedUp.transaction!).facts.amount,
    decodeEvmTransaction(base.transaction!).facts.amount,
    'the speed-up repeats the amount',
  );
  assert.deepEqual(checkRun(withSession(speedUp)).violations, []);
});

test('a campaign of ecdsa seeds passes every invariant', async () => {
  const seeds = [21, 22, 23, 24, 25, 26];
  const summary = await runCampaign(seeds, { scheme: 'ecdsa' });
  assert.equal(summary.seeds, seeds.length);
  assert.deepEqual(summary.failures, []);
  assert.equal(summary.violations, 0);
});
