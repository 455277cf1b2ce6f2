/**
 * Properties of every validator in transport/wire.ts: it never throws on arbitrary JSON (nor on
 * valid messages with a field set to arbitrary JSON), it accepts what its builder builds (and
 * gives back the same value), and it rejects a builder's output with any required field
 * removed or replaced by a value of another JSON type.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bytesToHex } from '@noble/hashes/utils.js';
import { errorTable, type ErrorCode } from '../../src/core/errors.ts';
import { schemes } from '../../src/protocol/engine.ts';
import * as wire from '../../src/transport/wire.ts';

const runs = { numRuns: 150 };

/** A value as it crosses the wire: JSON in, JSON out (plain objects, no undefined fields). */
const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

// ---------------------------------------------------------------------------------------------
// Arbitraries of valid values

const hex = (chars: number) =>
  fc.uint8Array({ minLength: chars / 2, maxLength: chars / 2 }).map((b) => bytesToHex(b));
const shortId = (max: number) => fc.string({ minLength: 1, maxLength: max });
const partyId = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/);
const parties = fc.uniqueArray(partyId, { minLength: 1, maxLength: 16 });
const nat = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const reason = fc.string({ maxLength: 100 });
const errorCode = fc.constantFrom(...(Object.keys(errorTable) as ErrorCode[]));
const boxKeys = fc.dictionary(partyId, hex(64), { maxKeys: 16 });
const addressing = fc.record({ sessionId: shortId(40), attempt: nat, token: nat });
const payload = fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), {
  maxKeys: 5,
});

const policyBlock = fc.record({
  tier: shortId(64),
  policyHash: hex(64),
  context: fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 }), {
    maxKeys: 5,
  }),
  approvals: fc.array(
    fc.record({
      approverId: fc.string({ maxLength: 30 }),
      signature: fc.string({ maxLength: 30 }),
    }),
    { maxLength: 3 },
  ),
});

const signStartRequired = [
  'walletId',
  'intentKey',
  'messageHex',
  'messageHash',
  'signers',
  'deadlineMs',
  'remainingMs',
] satisfies (keyof wire.SignStartBody)[];

const signStartBody = fc.record(
  {
    walletId: shortId(64),
    intentKey: shortId(128),
    messageHex: fc.uint8Array({ maxLength: 64 }).map((b) => bytesToHex(b)),
    messageHash: hex(64),
    signers: parties,
    deadlineMs: fc.integer(),
    remainingMs: fc.integer({ min: -1_000, max: 60_000 }),
    policy: policyBlock,
    boxKeys,
  },
  { requiredKeys: [...signStartRequired] },
);

const keygenStartBody = parties.chain((ps) =>
  fc.record(
    {
      walletId: shortId(64),
      scheme: fc.constantFrom(...schemes),
      threshold: fc.integer({ min: 1, max: ps.length }),
      parties: fc.constant(ps),
      boxKeys: fc
        .tuple(...ps.map(() => hex(64)))
        .map((keys) => Object.fromEntries(ps.map((p, i) => [p, keys[i]!]))),
      tier: shortId(64),
    },
    { requiredKeys: ['walletId', 'scheme', 'threshold', 'parties', 'boxKeys'] },
  ),
);

const envelope = fc.record({
  v: fc.constant(1 as const),
  kind: fc.constantFrom(...wire.envelopeKinds),
  sessionId: fc.string({ maxLength: 128 }),
  attempt: nat,
  token: nat,
  round: nat,
  from: fc.string({ maxLength: 128 }),
  to: fc.string({ maxLength: 128 }),
  conn: fc.string({ maxLength: 128 }),
  seq: nat,
  body: payload,
  sig: hex(128),
});

// ---------------------------------------------------------------------------------------------
// One row per validator: a valid value, what its builder puts on the wire, the fields required

interface Row {
  name: string;
  valid: fc.Arbitrary<unknown>;
  /** What the builder sends for `value` (the raw the validator reads). */
  build: (value: never) => unknown;
  /** What the validator must give back for the built raw. */
  expect: (value: never) => unknown;
  validate: (raw: unknown) => wire.Checked<unknown>;
  required: string[];
}

const same = (v: unknown) => v;
const bodyOf = (fields: wire.EnvelopeFields) => fields.body;

const rows: Row[] = [
  {
    name: 'challenge',
    valid: fc.record(
      {
        conn: shortId(128),
        nonce: shortId(128),
        coordinatorKey: hex(64),
        heartbeatMs: fc.integer(),
      },
      { requiredKeys: ['conn', 'nonce', 'coordinatorKey'] },
    ),
    build: (v: Omit<wire.ChallengeFrame, 't'>) => wire.buildChallenge(v),
    expect: (v: Omit<wire.ChallengeFrame, 't'>) => ({ t: 'challenge', ...v }),
    validate: wire.validateChallenge,
    required: ['t', 'conn', 'nonce', 'coordinatorKey'],
  },
  {
    name: 'hello',
    valid: fc.record(
      {
        partyId,
        identityKey: hex(64),
        boxKey: hex(64),
        proof: hex(128),
        enrollMac: hex(64),
        policyHash: hex(64),
      },
      { requiredKeys: ['partyId', 'identityKey', 'boxKey', 'proof'] },
    ),
    build: (v: Omit<wire.HelloFrame, 't'>) => wire.buildHello(v),
    expect: (v: Omit<wire.HelloFrame, 't'>) => ({ t: 'hello', ...v }),
    validate: wire.validateHello,
    required: ['t', 'partyId', 'identityKey', 'boxKey', 'proof'],
  },
  {
    name: 'welcome',
    valid: fc.record({ conn: shortId(128), proof: hex(128) }),
    build: (v: Omit<wire.WelcomeFrame, 't'>) => wire.buildWelcome(v),
    expect: (v: Omit<wire.WelcomeFrame, 't'>) => ({ t: 'welcome', ...v }),
    validate: wire.validateWelcome,
    required: ['t', 'conn', 'proof'],
  },
  {
    name: 'reject',
    valid: fc.record({ code: errorCode, message: reason }),
    build: (v: { code: ErrorCode; message: string }) => wire.buildReject(v.code, v.message),
    expect: (v: { code: ErrorCode; message: string }) => ({ t: 'reject', ...v }),
    validate: wire.validateReject,
    required: ['t', 'code', 'message'],
  },
  {
    name: 'env frame',
    valid: envelope,
    build: (e: wire.Envelope) => wire.buildEnvelopeFrame(e),
    expect: (e: wire.Envelope) => ({ t: 'env', e }),
    validate: wire.validateEnvelopeFrame,
    required: ['t', 'e'],
  },
  {
    name: 'envelope',
    valid: envelope,
    build: same,
    expect: same,
    validate: wire.validateEnvelope,
    required: [
      'v',
      'kind',
      'sessionId',
      'attempt',
      'token',
      'round',
      'from',
      'to',
      'conn',
      'seq',
      'body',
      'sig',
    ],
  },
  {
    name: 'sign-start',
    valid: fc.tuple(addressing, signStartBody),
    build: ([at, body]: [wire.Addressing, wire.SignStartBody]) =>
      bodyOf(wire.buildSignStart(at, body)),
    expect: ([, body]: [wire.Addressing, wire.SignStartBody]) => body,
    validate: wire.validateSignStart,
    required: [...signStartRequired],
  },
  {
    name: 'policy block',
    valid: policyBlock,
    build: same,
    expect: same,
    validate: wire.validatePolicyBlock,
    required: ['tier', 'policyHash', 'context', 'approvals'],
  },
  {
    name: 'keygen-start',
    valid: fc.tuple(shortId(40), keygenStartBody),
    build: ([id, body]: [string, wire.KeygenStartBody]) => bodyOf(wire.buildKeygenStart(id, body)),
    expect: ([, body]: [string, wire.KeygenStartBody]) => body,
    validate: wire.validateKeygenStart,
    required: ['walletId', 'scheme', 'threshold', 'parties', 'boxKeys'],
  },
  {
    name: 'protocol',
    valid: fc.tuple(addressing, nat, payload),
    build: ([at, round, p]: [wire.Addressing, number, Record<string, unknown>]) =>
      bodyOf(wire.buildProtocol(at, round, p)),
    expect: ([, , p]: [wire.Addressing, number, Record<string, unknown>]) => p,
    validate: wire.validateProtocol,
    required: [],
  },
  {
    name: 'discard',
    valid: fc.tuple(addressing, reason),
    build: ([at, r]: [wire.Addressing, string]) => bodyOf(wire.buildDiscard(at, r)),
    expect: ([, r]: [wire.Addressing, string]) => ({ reason: r }),
    validate: wire.validateDiscard,
    required: ['reason'],
  },
  {
    name: 'refuse',
    valid: fc.tuple(addressing, nat, fc.record({ code: errorCode, reason, hard: fc.boolean() })),
    build: ([at, round, body]: [wire.Addressing, number, wire.RefuseBody]) =>
      bodyOf(wire.buildRefuse(at, round, body)),
    expect: ([, , body]: [wire.Addressing, number, wire.RefuseBody]) => body,
    validate: wire.validateRefuse,
    required: ['code', 'reason', 'hard'],
  },
  {
    name: 'ping',
    valid: fc.constant(undefined),
    build: () => bodyOf(wire.buildPing()),
    expect: () => ({}),
    validate: wire.validatePing,
    required: [],
  },
  {
    name: 'pong',
    valid: nat,
    build: (echo: number) => bodyOf(wire.buildPong(echo)),
    expect: (echo: number) => ({ echo }),
    validate: wire.validatePong,
    required: ['echo'],
  },
];

/** Every validator in wire.ts has a row (a new validator without one fails here). */
test('every validator exported by wire.ts is covered', () => {
  const validators = Object.keys(wire).filter(
    (k) => k.startsWith('validate') && k !== 'validateFrame',
  );
  const covered = new Set(rows.map((r) => r.validate.name));
  assert.deepEqual(
    validators.filter((v) => !covered.has(v)),
    [],
  );
});

// ---------------------------------------------------------------------------------------------
// Properties

/** The JSON type of a value: what "a wrong type" differs in. */
const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Values of every JSON type (one is always of another type than the field's). */
const anyJson = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.string({ maxLength: 8 }),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
);

const validators = [...rows.map((r) => r.validate), wire.validateFrame];

test('no validator throws on arbitrary JSON', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 3 }), (raw) => {
      for (const validate of validators) {
        const checked = validate(raw);
        assert.equal(typeof checked.ok, 'boolean');
        if (!checked.ok) assert.match(checked.code, /^QUORATE_E_/);
      }
    }),
    { numRuns: 300 },
  );
});

for (const row of rows) {
  test(`${row.name}: accepts what its builder builds, and gives it back`, () => {
    fc.assert(
      fc.property(row.valid, (value) => {
        const raw = asJson(row.build(value as never));
        const checked = row.validate(raw);
        assert.ok(checked.ok, checked.ok ? '' : checked.reason);
        assert.deepEqual(checked.value, asJson(row.expect(value as never)));
      }),
      runs,
    );
  });

  test(`${row.name}: never throws when a field of a valid message is set to arbitrary JSON`, () => {
    fc.assert(
      fc.property(
        row.valid,
        fc.string({ maxLength: 12 }),
        fc.jsonValue({ maxDepth: 2 }),
        (value, key, json) => {
          const raw = row.build(value as never);
          if (typeof raw !== 'object' || raw === null) return;
          const fields = Object.keys(raw);
          const target =
            fields.length > 0 && key.length % 2 === 0 ? fields[key.length % fields.length]! : key;
          for (const validate of validators) validate({ ...raw, [target]: json });
        },
      ),
      runs,
    );
  });

  if (row.required.length === 0) continue;

  test(`${row.name}: rejects a message with a required field removed or of a wrong type`, () => {
    fc.assert(
      fc.property(row.valid, fc.constantFrom(...row.required), anyJson, (value, field, wrong) => {
        const raw = JSON.parse(JSON.stringify(row.build(value as never))) as Record<
          string,
          unknown
        >;
        const { [field]: original, ...without } = raw;
        assert.equal(row.validate(without).ok, false, `without ${field}`);
        fc.pre(jsonType(wrong) !== jsonType(original));
        assert.equal(
          row.validate({ ...raw, [field]: wrong }).ok,
          false,
          `${field}: ${JSON.stringify(wrong)}`,
        );
      }),
      runs,
    );
  });
}
