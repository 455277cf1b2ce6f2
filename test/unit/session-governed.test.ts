/**
 * The governed half of the session machine (src/session/governed.ts): rules verdicts, approvals,
 * the approval window and retries, as pure transitions. The coordinator computes verdicts; these
 * tests feed them in and check what the machine writes and asks for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RulesVerdict } from '../../src/session/governed.ts';
import {
  initialState,
  transition,
  type SessionEffect,
  type SessionEvent,
  type SessionState,
} from '../../src/session/machine.ts';
import type { SessionPolicy } from '../../src/session/session-policy.ts';
import { alive, fixtureParties, sessionRecord } from '../helpers/session-fixture.ts';

const parties = fixtureParties;

const policy = (over: Partial<SessionPolicy> = {}): SessionPolicy => ({
  tier: 'treasury',
  policyHash: 'h1',
  ruleIds: ['large'],
  requirement: {
    minSigners: 2,
    requiredTypes: [],
    requiredShares: [],
    approvals: [{ ruleIds: ['large'], k: 1, approvers: [{ id: 'alice', publicKey: '00' }] }],
  },
  shareTypes: { a: 'mobile', b: 'backend', c: 'guardian' },
  approvals: [],
  signingDeadlineMs: 20_000,
  approvalDeadlineMs: 600_000,
  ...over,
});

const groups = (missing: number) => [
  { k: 1, approvedBy: missing === 0 ? ['alice'] : [], missing, ruleIds: ['large'] },
];

function governed(): SessionState {
  return initialState(sessionRecord({ deadlineMs: 30_000 }), 1, {
    threshold: 2,
    parties,
    governed: true,
  });
}

function run(state: SessionState, events: SessionEvent[]) {
  const effects: SessionEffect[] = [];
  for (const e of events) {
    const t = transition(state, e);
    state = t.state;
    effects.push(...t.effects);
  }
  return { state, effects };
}

const recheck = (nowMs: number, verdict: RulesVerdict): SessionEvent => ({
  type: 'recheck',
  nowMs,
  verdict,
  candidates: alive(parties),
});

test('a governed session starts by asking for its rules, not by opening an attempt', () => {
  const { state, effects } = run(governed(), [
    { type: 'begin', nowMs: 10, candidates: alive(parties) },
  ]);
  assert.deepEqual(effects, [{ type: 'evaluate-rules' }]);
  assert.equal(state.version, 1, 'nothing written before the rules answered');
  assert.equal(state.record.attempts.length, 0);
});

test('a deny verdict fails the session with the verdict’s code and detail, no attempt ever', () => {
  const deny: RulesVerdict = {
    kind: 'deny',
    error: { code: 'QUORATE_E_POLICY_DENIED', message: 'over the cap', detail: { ruleId: 'cap' } },
  };
  const { state, effects } = run(governed(), [recheck(10, deny)]);
  assert.equal(state.record.status, 'failed');
  assert.equal(state.record.error?.code, 'QUORATE_E_POLICY_DENIED');
  assert.deepEqual(state.record.error?.detail, { sessionId: 's_1', ruleId: 'cap' });
  assert.deepEqual(
    effects.map((e) => e.type),
    ['persist', 'finished'],
  );
  assert.equal(state.record.attempts.length, 0);
});

test('allow with approvals missing: the session waits, its deadline covers the window plus signing, a timer is armed', () => {
  const verdict: RulesVerdict = {
    kind: 'allow',
    policy: policy(),
    satisfied: false,
    groups: groups(1),
  };
  const { state, effects } = run(governed(), [recheck(10, verdict)]);
  assert.equal(state.record.status, 'pending');
  assert.match(state.record.pendingReason ?? '', /1 more of 1 approvals for rule large/);
  assert.equal(state.record.deadlineMs, 600_000 + 20_000);
  assert.deepEqual(
    effects.map((e) => e.type),
    ['persist', 'arm-approval-timer'],
  );
  assert.deepEqual(effects[1], { type: 'arm-approval-timer', atMs: 600_000 });
});

test('an approval is recorded durably and makes the runtime re-check the rules; a satisfied re-check opens attempt 1', () => {
  const waiting = run(governed(), [
    recheck(10, { kind: 'allow', policy: policy(), satisfied: false, groups: groups(1) }),
  ]).state;
  const approval = { approverId: 'alice', signature: 'ab'.repeat(64) };
  const approved = run(waiting, [{ type: 'approve', nowMs: 50, approval, approvalsMax: 32 }]);
  assert.deepEqual(approved.state.record.policy?.approvals, [approval]);
  assert.deepEqual(
    approved.effects.map((e) => e.type),
    ['persist', 'evaluate-rules'],
  );
  const recorded = approved.state.record.policy;
  assert.ok(recorded);
  const signing = run(approved.state, [
    recheck(60, { kind: 'allow', policy: recorded, satisfied: true, groups: groups(0) }),
  ]);
  assert.equal(signing.state.record.status, 'running');
  assert.equal(signing.state.record.pendingReason, undefined);
  assert.equal(signing.state.record.deadlineMs, 60 + 20_000, 'signing time starts at execution');
  assert.deepEqual(
    signing.effects.map((e) => e.type),
    ['persist', 'run-attempt'],
  );
});

test('an approver who approves twice counts once; approvals past the cap are ignored', () => {
  const waiting = run(governed(), [
    recheck(10, { kind: 'allow', policy: policy(), satisfied: false, groups: groups(1) }),
  ]).state;
  const twice = run(waiting, [
    {
      type: 'approve',
      nowMs: 20,
      approval: { approverId: 'bob', signature: '01' },
      approvalsMax: 1,
    },
    {
      type: 'approve',
      nowMs: 30,
      approval: { approverId: 'bob', signature: '02' },
      approvalsMax: 1,
    },
  ]).state;
  assert.deepEqual(twice.record.policy?.approvals, [{ approverId: 'bob', signature: '02' }]);
  const over = transition(twice, {
    type: 'approve',
    nowMs: 40,
    approval: { approverId: 'carol', signature: '03' },
    approvalsMax: 1,
  });
  assert.deepEqual(over.effects, [], 'a second approver over a cap of 1 changes nothing');
});

test('approvals are refused by the machine once the session is not waiting for them', () => {
  const signing = run(governed(), [
    recheck(10, { kind: 'allow', policy: policy(), satisfied: true, groups: groups(0) }),
  ]).state;
  assert.equal(signing.record.status, 'running');
  const late = transition(signing, {
    type: 'approve',
    nowMs: 20,
    approval: { approverId: 'alice', signature: '00' },
    approvalsMax: 32,
  });
  assert.deepEqual(late.effects, []);
  assert.equal(late.state, signing);
});

test('the approval window fails the session with APPROVAL_TIMEOUT; a timer of an earlier window does nothing', () => {
  const waiting = run(governed(), [
    recheck(10, { kind: 'allow', policy: policy(), satisfied: false, groups: groups(1) }),
  ]).state;
  const stale = transition(waiting, { type: 'approval-deadline', nowMs: 700_000, atMs: 1_000 });
  assert.deepEqual(stale.effects, [], 'another window: ignored');
  const early = transition(waiting, { type: 'approval-deadline', nowMs: 500_000, atMs: 600_000 });
  assert.deepEqual(
    early.effects,
    [{ type: 'arm-approval-timer', atMs: 600_000 }],
    'a timer that fires early (wall clock moved back) fails nothing and waits on (sim seed 69)',
  );
  const late = transition(waiting, {
    type: 'approve',
    nowMs: 600_000,
    approval: { approverId: 'alice', signature: '00' },
    approvalsMax: 32,
  });
  assert.deepEqual(late.effects, [], 'an approval at or after the window never counts');
  const due = transition(waiting, { type: 'approval-deadline', nowMs: 600_000, atMs: 600_000 });
  assert.equal(due.state.record.status, 'failed');
  assert.equal(due.state.record.error?.code, 'QUORATE_E_APPROVAL_TIMEOUT');
  assert.equal(due.state.record.pendingReason, undefined);
  assert.deepEqual(
    due.effects.map((e) => e.type),
    ['persist', 'finished'],
  );
});

test('an awaiting verdict only updates the reason; an unchanged reason writes nothing', () => {
  const waiting = run(governed(), [
    recheck(10, { kind: 'allow', policy: policy(), satisfied: false, groups: groups(1) }),
  ]).state;
  const same = transition(waiting, recheck(20, { kind: 'awaiting', groups: groups(1) }));
  assert.deepEqual(same.effects, []);
  const twoGroups = [...groups(1), { k: 2, approvedBy: ['x'], missing: 1, ruleIds: ['ops'] }];
  const moved = transition(waiting, recheck(20, { kind: 'awaiting', groups: twoGroups }));
  assert.match(moved.state.record.pendingReason ?? '', /rule ops/);
  assert.deepEqual(
    moved.effects.map((e) => e.type),
    ['persist'],
  );
});

test('a restarted owner of a waiting session re-arms its window and re-checks; of an unevaluated one, evaluates', () => {
  const waiting = run(governed(), [
    recheck(10, { kind: 'allow', policy: policy(), satisfied: false, groups: groups(1) }),
  ]).state;
  const recovered = transition(waiting, { type: 'recover', nowMs: 99, candidates: alive(parties) });
  assert.deepEqual(recovered.effects, [
    { type: 'arm-approval-timer', atMs: 600_000 },
    { type: 'evaluate-rules' },
  ]);
  const fresh = transition(governed(), { type: 'recover', nowMs: 99, candidates: alive(parties) });
  assert.deepEqual(fresh.effects, [{ type: 'evaluate-rules' }]);
});

test('retry: a retryable failure reopens the same session; governed → rules again, ungoverned → attempt at once', () => {
  const failed = run(governed(), [
    recheck(10, { kind: 'allow', policy: policy(), satisfied: true, groups: groups(0) }),
    { type: 'deadline', nowMs: 20_010 },
  ]).state;
  assert.equal(failed.record.error?.code, 'QUORATE_E_DEADLINE_EXCEEDED');
  const retry: SessionEvent = {
    type: 'retry',
    nowMs: 30_000,
    deadlineMs: 60_000,
    candidates: alive(parties),
  };
  const again = transition(failed, retry);
  assert.equal(again.state.record.status, 'pending');
  assert.equal(again.state.record.retry?.count, 1);
  assert.deepEqual(
    again.effects.map((e) => e.type),
    ['persist', 'evaluate-rules'],
  );
  const plain: SessionState = { ...failed, wallet: { threshold: 2, parties } };
  const { policy: _dropped, ...ungoverned } = failed.record;
  const direct = transition({ ...plain, record: ungoverned }, retry);
  assert.equal(direct.state.record.status, 'running');
  assert.equal(direct.state.record.attempts.at(-1)?.attempt, 2);
  const final = transition(
    {
      ...failed,
      record: {
        ...failed.record,
        error: { code: 'QUORATE_E_POLICY_DENIED', message: 'no', detail: {} },
      },
    },
    retry,
  );
  assert.deepEqual(final.effects, [], 'a non-retryable failure is never reopened');
});

test('parties refusing under their own rules end a governed session POLICY_DENIED, not QUORUM_UNAVAILABLE', () => {
  const signing = run(governed(), [
    recheck(10, { kind: 'allow', policy: policy(), satisfied: true, groups: groups(0) }),
  ]).state;
  const refused = (
    attempt: number,
    party: string,
    code?: 'QUORATE_E_POLICY_DENIED',
  ): SessionEvent => ({
    type: 'attempt-failed',
    attempt,
    nowMs: 20 + attempt,
    cause: 'refused',
    reason: 'velocity limit',
    parties: [party],
    candidates: alive(parties),
    ...(code === undefined ? {} : { code }),
  });
  const first = signing.record.attempts[0]?.parties[0] as string;
  const second = run(signing, [refused(1, first, 'QUORATE_E_POLICY_DENIED')]).state;
  assert.equal(second.record.status, 'running', 'one refusal: another quorum is tried');
  const blocker = second.record.attempts[1]?.parties.find((p) => p !== first) as string;
  const denied = run(second, [refused(2, blocker, 'QUORATE_E_POLICY_DENIED')]).state;
  assert.equal(denied.record.error?.code, 'QUORATE_E_POLICY_DENIED');
  assert.equal(denied.record.error?.detail['cause'], 'party-rules');
  const aborted = run(second, [refused(2, blocker)]).state;
  assert.equal(aborted.record.error?.code, 'QUORATE_E_PROTOCOL_ABORT', 'other refusals: abort');
});

test('a deadline timer armed for a deadline the session has moved past is ignored', () => {
  const waiting = run(governed(), [
    recheck(10, { kind: 'allow', policy: policy(), satisfied: false, groups: groups(1) }),
  ]).state;
  assert.equal(waiting.record.deadlineMs, 620_000);
  const stale = transition(waiting, { type: 'deadline', nowMs: 30_000, atMs: 30_000 });
  assert.deepEqual(stale.effects, [], 'armed for the 30 s deadline of the request, moved since');
  const due = transition(waiting, { type: 'deadline', nowMs: 620_000, atMs: 620_000 });
  assert.equal(due.state.record.error?.code, 'QUORATE_E_DEADLINE_EXCEEDED');
});
