/**
 * Properties of every validator in transport/wire.ts: it never throws on arbitrary JSON (nor on
 * valid messages with a field set to arbitrary JSON), it accepts what its builder builds (and
 * gives back the same value), and it rejects a builder's output with any required field
 * removed or replaced by a value of another JSON type. Then the same frames, and worse, at both
 * ends of a live link: the coordinator's registry and a party runtime, in every handshake phase.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { sha256Hex } from '../../src/core/encoding.ts';
import { errorTable, type ErrorCode } from '../../src/core/errors.ts';
import { schemes } from '../../src/protocol/engine.ts';
import { runKeygen } from '../../src/protocol/local-run.ts';
import * as wire from '../../src/transport/wire.ts';
import {
  partyUnderTest,
  registryUnderTest,
  settle,
  type HostileConnection,
} from '../helpers/hostile-ends.ts';
import { testRng } from '../helpers/party-harness.ts';

const runs = { numRuns: 150 };

/** A value as it crosses the wire: JSON in, JSON out (plain objects, no undefined fields). */
const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

// ---------------------------------------------------------------------------------------------
// Arbitraries of valid values

const hex = (chars: number) =>
  fc.uint8Array({ minLength: chars / 2, maxLength: chars / 2 }).map((b) => bytesToHex(b));
const shortId = (max: number) => fc.string({ minLength: 1, maxLength: max });
/** A wallet id: never a '/' (a party's journal names a wallet's staged share with one). */
const walletId = (max: number) => shortId(max).filter((id) => !id.includes('/'));
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
    walletId: walletId(64),
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
      walletId: walletId(64),
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
  /**
   * The wire.ts validator this row covers, when `validate` wraps it: the keygen confirmation
   * validators read a protocol payload, which `validateProtocol` has already found to be an
   * object, so the row hands them objects only (anything else is refused as validateProtocol
   * would refuse it).
   */
  covers?: string;
}

/** The own keys of an object; none for anything else. */
const keysOf = (x: unknown): string[] =>
  typeof x === 'object' && x !== null ? Object.keys(x) : [];

/** `validate` for a validator of an already-validated protocol payload (an object). */
function ofPayload(
  validate: (payload: Record<string, unknown>) => wire.Checked<unknown>,
): (raw: unknown) => wire.Checked<unknown> {
  return (raw) => {
    const payload = wire.validateProtocol(raw);
    return payload.ok ? validate(payload.value) : payload;
  };
}

const confirmation = fc.record({
  transcript: hex(64),
  publicKey: fc.integer({ min: 1, max: 65 }).chain((bytes) => hex(bytes * 2)),
  signature: hex(128),
});

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
    name: 'epoch-test',
    valid: fc.tuple(
      addressing,
      fc.record({
        walletId: walletId(40),
        operationId: shortId(40),
        epoch: fc.integer({ min: 1, max: 1_000_000 }),
        signers: fc.uniqueArray(partyId, { minLength: 1, maxLength: 8 }),
      }),
    ),
    build: ([at, body]: [wire.Addressing, wire.EpochTestBody]) =>
      bodyOf(wire.buildEpochTest(at, body)),
    expect: ([, body]: [wire.Addressing, wire.EpochTestBody]) => body,
    validate: wire.validateEpochTest,
    required: ['walletId', 'operationId', 'epoch', 'signers'],
  },
  {
    name: 'epoch',
    valid: fc.tuple(
      addressing,
      fc.record({
        walletId: walletId(40),
        operationId: shortId(40),
        epoch: fc.integer({ min: 1, max: 1_000_000 }),
        action: fc.constantFrom('commit' as const, 'abandon' as const),
      }),
    ),
    build: ([at, body]: [wire.Addressing, wire.EpochBody]) => bodyOf(wire.buildEpoch(at, body)),
    expect: ([, body]: [wire.Addressing, wire.EpochBody]) => body,
    validate: wire.validateEpoch,
    required: ['walletId', 'operationId', 'epoch', 'action'],
  },
  {
    name: 'epoch acknowledgement',
    valid: fc.tuple(nat, fc.constantFrom('promoted', 'erased', 'kept', 'none')),
    build: ([epoch, outcome]: [number, string]) => wire.buildEpochAck({ epoch, outcome }),
    expect: ([epoch, outcome]: [number, string]) => ({ epoch, outcome }),
    validate: ofPayload(wire.validateEpochAck),
    required: ['epochAck'],
    covers: 'validateEpochAck',
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
  {
    name: 'keygen confirmation',
    valid: confirmation,
    build: (c: wire.KeygenConfirmation) => wire.buildConfirmPayload(c),
    expect: same,
    validate: ofPayload(wire.validateConfirmPayload),
    required: ['confirm'],
    covers: 'validateConfirmPayload',
  },
  {
    name: 'keygen activation (relayed confirmations)',
    valid: fc.dictionary(partyId, confirmation, { minKeys: 1, maxKeys: 16 }),
    build: (all: Record<string, wire.KeygenConfirmation>) => wire.buildActivatePayload(all),
    expect: same,
    // The participants are the confirmations' own ids: the validator wants exactly those.
    validate: ofPayload((p) => wire.validateActivatePayload(p, keysOf(p['confirmations']))),
    required: [],
    covers: 'validateActivatePayload',
  },
  {
    name: 'keygen activated',
    valid: hex(64),
    build: (transcript: string) => wire.buildActivatedPayload(transcript),
    expect: same,
    validate: ofPayload(wire.validateActivatedPayload),
    required: ['activated'],
    covers: 'validateActivatedPayload',
  },
];

/** Every validator in wire.ts has a row (a new validator without one fails here). */
test('every validator exported by wire.ts is covered', () => {
  const validators = Object.keys(wire).filter(
    (k) => k.startsWith('validate') && k !== 'validateFrame',
  );
  const covered = new Set(rows.map((r) => r.covers ?? r.validate.name));
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

// ---------------------------------------------------------------------------------------------
// Both ends: whatever arrives on a link, the runtime behind it never throws and never leaves a
// rejected promise behind (finding 1 of the adversarial review: one frame used to crash a
// process). Frames come raw (any JSON, deep nesting, valid frames with a field replaced or
// removed) and, once a handshake is complete, inside envelopes the peer really signed (every
// kind, bodies of any shape, a live signing session's protocol payloads garbled).

/** An array nested `depth` deep: far deeper than any valid frame, within the frame limit. */
const nestedArray = (depth: number): unknown =>
  JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown;

/** A hello whose partyId is itself a hello, `depth` deep. */
function nestedHello(depth: number): unknown {
  let value: unknown = 'p1';
  for (let i = 0; i < depth; i++) value = { t: 'hello', partyId: value };
  return value;
}

/** What a row's builder puts on the wire for an arbitrary valid value, one field replaced. */
const mutatedBuilt = (chosen: Row[]) =>
  fc.constantFrom(...chosen).chain((row) =>
    fc
      .tuple(row.valid, fc.nat(), fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }))
      .map(([value, pick, json]) => {
        const raw = asJson(row.build(value as never));
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
        const copy: Record<string, unknown> = { ...raw };
        const fields = Object.keys(copy);
        const key = fields[pick % Math.max(1, fields.length)];
        if (key === undefined) return copy;
        if (json === undefined) delete copy[key];
        else copy[key] = json;
        return copy;
      }),
  );

const frameRows = rows.filter((r) =>
  ['challenge', 'hello', 'welcome', 'reject', 'env frame'].includes(r.name),
);
const bodyRows = rows.filter((r) => !frameRows.includes(r) && r.name !== 'envelope');

/** Any frame a hostile peer may send. */
const hostileFrame: fc.Arbitrary<unknown> = fc.oneof(
  // The bare JSON values first among equals: a null first frame was the original crash.
  fc.constantFrom(null, true, 0, '', [], {}, { t: null }, { t: 'hello' }, { t: 'env' }),
  fc.jsonValue({ maxDepth: 4 }),
  fc.integer({ min: 1, max: 2_000 }).map(nestedArray),
  fc.integer({ min: 1, max: 300 }).map(nestedHello),
  fc.constantFrom(...frameRows).chain((row) => row.valid.map((v) => asJson(row.build(v as never)))),
  mutatedBuilt(frameRows),
);

const heldWalletId = 'w_00000000000000000000000f';
const heldMessage = bytesToHex(new TextEncoder().encode('pay 5 to frank'));
const heldKeys = runKeygen('ed25519', ['p1', 'p2'], 2, testRng).map((k) => ({
  ...k,
  walletId: heldWalletId,
}));

/** A sign-start the party can serve: its own wallet, a valid message and signer set. */
const heldSignStart = (): wire.SignStartBody => ({
  walletId: heldWalletId,
  intentKey: 'held-intent',
  messageHex: heldMessage,
  messageHash: sha256Hex(hexToBytes(heldMessage)),
  signers: ['p1', 'p2'],
  deadlineMs: Date.now() + 30_000,
  remainingMs: 30_000,
});

/** A body of any shape for a signed envelope (the validators behind the guard see it). */
const hostileBody: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  payload,
  mutatedBuilt(bodyRows).filter((b): b is Record<string, unknown> => objectLike(b)),
  fc
    .tuple(fc.constantFrom(...Object.keys(heldSignStart())), fc.jsonValue({ maxDepth: 2 }))
    .map(([key, json]) => ({ ...heldSignStart(), [key]: json })),
  fc.record({
    hiding: fc.oneof(hex(66), fc.jsonValue({ maxDepth: 1 })),
    binding: fc.oneof(hex(66), fc.jsonValue({ maxDepth: 1 })),
    commitments: fc.jsonValue({ maxDepth: 3 }),
    share: fc.oneof(hex(64), fc.jsonValue({ maxDepth: 1 })),
  }),
);

function objectLike(x: unknown): boolean {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** One step of an attack: a raw frame, or an envelope the peer signs. */
const hostileStep = fc.oneof(
  hostileFrame.map((frame) => ({ raw: frame })),
  fc
    .record({
      kind: fc.constantFrom(...wire.envelopeKinds),
      sessionId: fc.constantFrom('s_held', 's_other', ''),
      attempt: fc.nat({ max: 3 }),
      token: fc.nat({ max: 3 }),
      round: fc.nat({ max: 3 }),
      body: hostileBody,
    })
    .map((fields) => ({ signed: fields })),
);

type HostileStep = { raw: unknown } | { signed: wire.EnvelopeFields };

/** Sends `steps` on `conn`: nothing may throw out of the end under test. */
function sendAll(conn: HostileConnection, steps: HostileStep[]): void {
  for (const step of steps) {
    const frame =
      'raw' in step
        ? step.raw
        : conn.sender
          ? wire.buildEnvelopeFrame(conn.sender.build(step.signed))
          : undefined;
    if (frame === undefined) continue;
    assert.doesNotThrow(() => conn.link.send(frame));
  }
}

/** Records unhandled rejections while a suite runs; `check` fails if there was any. */
function unhandledRejections(): { check: () => void; stop: () => void } {
  const seen: unknown[] = [];
  const record = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', record);
  return {
    check: () => assert.deepEqual(seen.map(String), [], 'no unhandled rejection'),
    stop: () => process.off('unhandledRejection', record),
  };
}

const endRuns = { numRuns: 150 };
const rawSteps = fc.array(
  hostileFrame.map((raw): HostileStep => ({ raw })),
  { minLength: 1, maxLength: 4 },
);
const signedSteps = fc.array(hostileStep, { minLength: 1, maxLength: 6 });
/** A valid sign-start of the held wallet: later steps reach its live signing session. */
const heldOpening: HostileStep = {
  signed: wire.buildSignStart({ sessionId: 's_held', attempt: 1, token: 1 }, heldSignStart()),
};

/**
 * The property: on a fresh connection from `connect`, no sequence of `steps` throws out of the
 * end under test or leaves an unhandled rejection once its promises have run.
 */
function survives(
  connect: () => HostileConnection | Promise<HostileConnection>,
  steps: fc.Arbitrary<HostileStep[]>,
  rejections: { check: () => void },
): Promise<void> {
  return fc.assert(
    fc.asyncProperty(steps, async (sequence) => {
      const conn = await connect();
      sendAll(conn, sequence);
      await settle();
      conn.link.close('end of run');
      rejections.check();
    }),
    endRuns,
  );
}

describe('the coordinator registry survives arbitrary frames', () => {
  const end = registryUnderTest();
  const rejections = unhandledRejections();
  after(() => {
    end.stop();
    rejections.stop();
  });

  test('before the hello: raw frames of any shape', () =>
    survives(() => end.beforeHello(), rawSteps, rejections));

  test('after enrolment: raw frames and envelopes the party signed, bodies of any shape', () =>
    survives(() => end.enrolled('p-hostile'), signedSteps, rejections));

  test('afterwards another party still enrols', async () => {
    const conn = await end.enrolled('p-good');
    assert.equal(conn.link.isOpen, true);
    assert.equal(end.registry.isConnected('p-good'), true);
  });
});

describe('the party runtime survives arbitrary frames in every handshake phase', () => {
  const end = partyUnderTest('p1', [heldKeys.find((k) => k.partyId === 'p1')!]);
  const rejections = unhandledRejections();
  after(() => {
    end.close();
    rejections.stop();
  });

  for (const phase of ['before-challenge', 'after-challenge'] as const) {
    test(`${phase}: raw frames of any shape`, () =>
      survives(() => end.connect(phase), rawSteps, rejections));
  }

  test('after-welcome: raw frames and signed envelopes, a live signing session among them', () =>
    survives(
      () => end.connect('after-welcome'),
      fc
        .tuple(fc.boolean(), signedSteps)
        .map(([startHeld, steps]) => [...(startHeld ? [heldOpening] : []), ...steps]),
      rejections,
    ));

  test('afterwards a new connection is served: a signed ping gets a pong', () => {
    const conn = end.connect('after-welcome');
    const answers: unknown[] = [];
    conn.link.onFrame((frame) => answers.push(frame));
    sendAll(conn, [{ signed: wire.buildPing() }]);
    const pong = wire.validateEnvelopeFrame(answers[0]);
    assert.ok(pong.ok, 'an envelope answers');
    assert.equal(pong.value.e.kind, 'pong');
  });
});
