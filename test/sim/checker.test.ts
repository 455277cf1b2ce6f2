/**
 * The checker must catch violations: each test injects one into a clean, real history (or its
 * journals/observations) and expects that invariant to fail. A test that cannot fail is a defect.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRun } from '../../src/checker/check.ts';
import type { HistoryEvent, SignCompletion } from '../../src/checker/history.ts';
import type { CheckInput } from '../../src/checker/types.ts';
import { runSeed } from '../../src/sim/run-seed.ts';

let clean: CheckInput;

before(async () => {
  const result = await runSeed({ seed: 11, kind: 'none', scheme: 'bip340', requests: 4 });
  clean = result.input;
});

const copy = (): CheckInput => structuredClone(clean);
const invariants = (input: CheckInput) => checkRun(input).violations.map((v) => v.invariant);
type SignDone = HistoryEvent & { type: 'ok'; f: 'sign'; value: SignCompletion };
const oks = (input: CheckInput): SignDone[] =>
  input.history.filter((e): e is SignDone => e.type === 'ok' && e.f === 'sign');
/**
 * The index of a journal of a party that signed (consumed a nonce): a hedge extra discarded
 * within its grace draws none, so not every party of the fixture has one.
 */
const signerJournal = (input: CheckInput): number =>
  input.journals.findIndex((j) => j.nonces.some((n) => n.state === 'consumed'));

test('the clean history passes', () => {
  assert.deepEqual(invariants(copy()), []);
  assert.ok(oks(clean).length >= 2, 'fixture has at least two signatures');
});

test('I1: two distinct signatures for one intent fail', () => {
  const input = copy();
  const [a, b] = oks(input);
  const invokeOf = (process: string) =>
    input.history.find((e) => e.process === process && e.type === 'invoke');
  const ia = invokeOf(a!.process)!;
  const ib = invokeOf(b!.process)!;
  // Make b a request for a's intent and message but with its own (valid) signature.
  Object.assign(ib.value, {
    intentKey: (ia.value as { intentKey: string }).intentKey,
    messageHex: (ia.value as { messageHex: string }).messageHex,
  });
  assert.ok(invariants(input).includes('I1'));
});

test('I1: a second signature only in the store fails', () => {
  const input = copy();
  const s = input.sessions.find((x) => x.signature !== undefined)!;
  input.sessions.push({ ...s, sessionId: 's_other', signature: 'ab'.repeat(32) });
  assert.ok(invariants(input).includes('I1'));
});

test('I2: one commitment consumed by two parties fails', () => {
  const input = copy();
  const signer = signerJournal(input);
  const consumed = input.journals[signer]?.nonces.find((n) => n.state === 'consumed');
  assert.ok(consumed, 'a fixture party consumed a nonce');
  input.journals[(signer + 1) % input.journals.length]!.nonces.push({ ...consumed });
  assert.ok(invariants(input).includes('I2'));
});

test('I2: a journal log consuming one commitment twice fails', () => {
  const input = copy();
  const ops = input.journals[signerJournal(input)]!.ops!;
  const consume = ops.find((o) => o.op === 'consume' && o.ok)!;
  ops.push({ ...consume, atMs: consume.atMs + 1 });
  assert.ok(invariants(input).includes('I2'));
});

test('I3: acting on a lower token than already seen fails', () => {
  const input = copy();
  const ops = input.journals[signerJournal(input)]!.ops!;
  const record = ops.find((o) => o.op === 'record')!;
  assert.equal(record.op, 'record');
  if (record.op !== 'record') return;
  ops.push(
    { op: 'observe', atMs: 1e9, sessionId: record.sessionId, token: record.token + 5, ok: true },
    { ...record, atMs: 1e9 + 1, commitment: 'ff', ok: true },
  );
  assert.ok(invariants(input).includes('I3'));
});

test('I4: a signature that does not verify fails', () => {
  const input = copy();
  const ok = oks(input)[0]!;
  const sig = ok.value.signature!;
  ok.value.signature = `${sig.slice(0, -2)}${sig.endsWith('00') ? '01' : '00'}`;
  assert.ok(invariants(input).includes('I4'));
});

test('I5: a completion after the deadline fails, and so does a missing one', () => {
  const late = copy();
  const ok = oks(late)[0]!;
  ok.timeMs = ok.value.sessionDeadlineAtMs! + 1;
  assert.ok(invariants(late).includes('I5'));
  const missing = copy();
  const idx = missing.history.indexOf(oks(missing)[0]!);
  missing.history.splice(idx, 1);
  assert.ok(invariants(missing).includes('I5'));
});

test('I5: QUORUM_UNAVAILABLE while t parties were reachable fails', () => {
  const input = copy();
  const ok = oks(input)[0]!;
  const fail = {
    ...ok,
    type: 'fail',
    value: { ...ok.value, code: 'QUORATE_E_QUORUM_UNAVAILABLE', signature: undefined },
  } as unknown as HistoryEvent;
  input.history[input.history.indexOf(ok)] = fail;
  assert.ok(invariants(input).includes('I5'));
  // The same answer while every party was cut off is correct.
  const parties = input.wallets[0]!.parties;
  input.history.unshift({
    index: -1,
    timeMs: 0,
    process: 'nemesis',
    type: 'info',
    f: 'start',
    value: { id: 'x', kind: 'split', impaired: parties, description: 'all cut' },
  });
  assert.ok(!invariants(input).includes('I5'));
});

test('I6: a nonce still issued after the session ended plus cleanup fails', () => {
  const input = copy();
  const ok = oks(input)[0]!;
  input.observations.push({
    timeMs: ok.timeMs + 5_001,
    partyId: input.wallets[0]!.parties[0]!,
    activeSessions: 1,
    issued: [{ sessionId: ok.value.sessionId!, attempt: 1, token: 2 }],
  });
  assert.ok(invariants(input).includes('I6'));
  // Within the cleanup bound it is fine.
  input.observations.at(-1)!.timeMs = ok.timeMs + 4_000;
  assert.ok(!invariants(input).includes('I6'));
});

test('INTENT: a conflict answer without a second message fails', () => {
  const input = copy();
  const ok = oks(input)[0]!;
  input.history[input.history.indexOf(ok)] = {
    ...ok,
    type: 'fail',
    value: { requestId: ok.value.requestId, code: 'QUORATE_E_INTENT_CONFLICT' },
  } as unknown as HistoryEvent;
  assert.ok(invariants(input).includes('INTENT'));
});
