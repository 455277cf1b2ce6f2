/**
 * The governed-wallet checks G1–G5 must catch violations: each test breaks one thing in a clean,
 * real governed history (seed 37, no fault: a request signed after two approvals with an invalid
 * one refused first, one with too few approvals, one with late approvals, one denied by a deny
 * rule, a metered burst) and expects that check to fail. A test that cannot fail is a defect.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { checkRun } from '../../src/checker/check.ts';
import type {
  ApproveCompletion,
  ApproveInvoke,
  HistoryEvent,
  SignCompletion,
  SignInvoke,
} from '../../src/checker/history.ts';
import type { CheckInput, StoredSession } from '../../src/checker/types.ts';
import { runSeed } from '../../src/sim/run-seed.ts';

let clean: CheckInput;

before(async () => {
  const result = await runSeed({ seed: 37, kind: 'none', governed: true });
  assert.equal(result.governed, true);
  clean = result.input;
});

const copy = (): CheckInput => structuredClone(clean);
const invariants = (input: CheckInput) => checkRun(input).violations.map((v) => v.invariant);

type Invoke = HistoryEvent & { type: 'invoke'; f: 'sign'; value: SignInvoke };
type Done = HistoryEvent & { type: 'ok' | 'fail'; f: 'sign'; value: SignCompletion };
type ApproveCall = HistoryEvent & { type: 'invoke'; f: 'approve'; value: ApproveInvoke };
type ApproveDone = HistoryEvent & { type: 'ok' | 'fail'; f: 'approve'; value: ApproveCompletion };

/** The invoke and last answer of the governed request whose plan matches. */
function request(input: CheckInput, match: (v: SignInvoke) => boolean) {
  const invoke = input.history.find(
    (e): e is Invoke => e.f === 'sign' && e.type === 'invoke' && match(e.value),
  );
  assert.ok(invoke, 'the fixture has such a request');
  const done = input.history.filter(
    (e): e is Done => e.f === 'sign' && e.process === invoke.process && e.type !== 'invoke',
  );
  const last = done.at(-1);
  assert.ok(last, 'and it was answered');
  return { invoke, done: last };
}

const signedWithApprovals = (input: CheckInput) =>
  request(
    input,
    (v) => v.governance?.expected === 'approvals' && v.governance.approvalPlan === 'in-time',
  );
const sessionOf = (input: CheckInput, sessionId: string | undefined): StoredSession => {
  const s = input.sessions.find((x) => x.sessionId === sessionId);
  assert.ok(s, 'the store has the session');
  return s;
};
const approvalCalls = (input: CheckInput) =>
  input.history.filter((e): e is ApproveCall => e.f === 'approve' && e.type === 'invoke');

test('the clean governed history passes, and has what the checks need', () => {
  assert.deepEqual(checkRun(copy()).violations, []);
  const { done } = signedWithApprovals(clean);
  assert.equal(done.type, 'ok');
  const s = sessionOf(clean, done.value.sessionId);
  assert.equal(s.policy?.requirement.approvals[0]?.k, 2);
  assert.ok((s.policy?.approvals.length ?? 0) >= 2, 'signed with its approvals recorded');
  const codes = clean.history
    .filter((e): e is Done => e.f === 'sign' && e.type === 'fail')
    .map((e) => e.value.code);
  assert.ok(codes.includes('QUORATE_E_POLICY_DENIED'));
  assert.ok(codes.includes('QUORATE_E_APPROVAL_TIMEOUT'));
  assert.ok(
    approvalCalls(clean).some((e) => !e.value.valid),
    'an invalid approval was posted',
  );
});

test('G1: a governed session signed with fewer approvals than its requirement fails', () => {
  const input = copy();
  const s = sessionOf(input, signedWithApprovals(input).done.value.sessionId);
  s.policy!.approvals = s.policy!.approvals.slice(0, 1);
  assert.ok(invariants(input).includes('G1'));
});

test('G1: an approval whose signature does not verify does not count', () => {
  const input = copy();
  const s = sessionOf(input, signedWithApprovals(input).done.value.sessionId);
  const stranger = new Uint8Array(32).fill(7);
  const first = s.policy!.approvals[0]!;
  first.signature = bytesToHex(ed25519.sign(hexToBytes('00'), stranger));
  assert.ok(invariants(input).includes('G1'));
});

test('G1: a requirement recorded without its approvals still fails against the plan', () => {
  const input = copy();
  const s = sessionOf(input, signedWithApprovals(input).done.value.sessionId);
  s.policy!.requirement.approvals = [];
  s.policy!.approvals = [];
  assert.ok(invariants(input).includes('G1'));
});

test('G2: a session answered APPROVAL_TIMEOUT that signs later fails', () => {
  const input = copy();
  const { done } = request(input, (v) => v.governance?.approvalPlan === 'too-few');
  assert.equal(done.value.code, 'QUORATE_E_APPROVAL_TIMEOUT');
  sessionOf(input, done.value.sessionId).signature = 'ab'.repeat(64);
  assert.ok(invariants(input).includes('G2'));
});

test('G2: a request a deny rule matches must never sign', () => {
  const input = copy();
  const { done } = request(input, (v) => v.governance?.expected === 'deny');
  assert.equal(done.value.code, 'QUORATE_E_POLICY_DENIED');
  const s = sessionOf(input, done.value.sessionId);
  s.status = 'signed';
  s.signature = 'cd'.repeat(64);
  assert.ok(invariants(input).includes('G2'));
});

test('G3: an approval timeout answered before the window could close fails', () => {
  const input = copy();
  const { invoke, done } = request(input, (v) => v.governance?.approvalPlan === 'late');
  assert.equal(done.value.code, 'QUORATE_E_APPROVAL_TIMEOUT');
  done.timeMs = invoke.timeMs + input.governance!.approvalWindowMs - 1;
  assert.ok(invariants(input).includes('G3'));
  done.timeMs = invoke.timeMs + input.governance!.approvalWindowMs;
  assert.ok(!invariants(input).includes('G3'));
});

test('G3: an approval given after its deadline counting towards a signature fails', () => {
  const input = copy();
  const { done } = signedWithApprovals(input);
  for (const call of approvalCalls(input))
    if (call.value.sessionId === done.value.sessionId && call.value.valid)
      call.timeMs = call.value.approvalDeadlineAtMs! + 1;
  assert.ok(invariants(input).includes('G3'));
});

test('G4: an invalid approval answered ok fails', () => {
  const input = copy();
  const invalid = approvalCalls(input).find((e) => !e.value.valid)!;
  const answer = input.history.find(
    (e): e is ApproveDone =>
      e.f === 'approve' && e.process === invalid.process && e.type !== 'invoke',
  )!;
  assert.equal(answer.value.code, 'QUORATE_E_APPROVAL_REJECTED');
  Object.assign(answer, { type: 'ok' });
  delete answer.value.code;
  assert.ok(invariants(input).includes('G4'));
});

test('G4: a refused approval found in the session record fails', () => {
  const input = copy();
  const invalid = approvalCalls(input).find((e) => !e.value.valid)!;
  const s = sessionOf(input, invalid.value.sessionId);
  s.policy!.approvals.push({
    approverId: invalid.value.approverId,
    signature: invalid.value.signature,
  });
  assert.ok(invariants(input).includes('G4'));
});

test('G5: more signed requests of a velocity class than its limit fails', () => {
  const input = copy();
  const { invoke, done } = request(input, (v) => v.governance?.expected === 'metered');
  assert.equal(done.type, 'ok', 'the first metered request signed');
  invoke.value.governance!.velocity = { key: 'metered', maxCount: 0 };
  assert.ok(invariants(input).includes('G5'));
});
