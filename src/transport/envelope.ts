/**
 * Wire envelopes. Every protocol frame is bound to `(sessionId, attempt, token, round, from,
 * to)`, carries the connection id and a strictly increasing sequence number, and is signed by
 * the sender's Ed25519 identity key over its canonical JSON. {@link EnvelopeGuard} rejects
 * bad signatures, wrong addressing, other connections (replays) and duplicates.
 */
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../core/encoding.ts';
import { QuorateError } from '../core/errors.ts';
import type { Payload } from '../protocol/engine.ts';
import { signDetached, verifyDetached } from './identity.ts';

/** Envelope kinds. */
export type EnvelopeKind =
  'sign-start' | 'keygen-start' | 'protocol' | 'discard' | 'refuse' | 'ping' | 'pong';

export const envelopeKinds: readonly EnvelopeKind[] = [
  'sign-start',
  'keygen-start',
  'protocol',
  'discard',
  'refuse',
  'ping',
  'pong',
];

/** An envelope without its signature. */
export interface UnsignedEnvelope {
  v: 1;
  kind: EnvelopeKind;
  sessionId: string;
  attempt: number;
  token: number;
  round: number;
  from: string;
  to: string;
  conn: string;
  seq: number;
  body: Payload;
}

/** A signed envelope as it travels. */
export interface Envelope extends UnsignedEnvelope {
  sig: string;
}

const domain = 'quorate-envelope-v1';

function signingBytes(e: UnsignedEnvelope): Uint8Array {
  return utf8ToBytes(canonicalJson(e));
}

/** Signs an envelope with the sender's identity secret key. */
export function sealEnvelope(e: UnsignedEnvelope, signSecret: Uint8Array): Envelope {
  return { ...e, sig: bytesToHex(signDetached(domain, signingBytes(e), signSecret)) };
}

function bad(message: string, detail: Record<string, unknown> = {}): QuorateError {
  return new QuorateError('QUORATE_E_BAD_ENVELOPE', message, detail);
}

const isNat = (x: unknown): x is number =>
  typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isStr = (x: unknown, max: number): x is string => typeof x === 'string' && x.length <= max;

/** Structural validation of an untrusted frame; throws `QUORATE_E_BAD_ENVELOPE`. */
export function parseEnvelope(raw: unknown): Envelope {
  if (typeof raw !== 'object' || raw === null) throw bad('envelope is not an object');
  const e = raw as Record<string, unknown>;
  if (e['v'] !== 1) throw bad('unsupported envelope version');
  if (!envelopeKinds.includes(e['kind'] as EnvelopeKind)) throw bad('unknown envelope kind');
  for (const key of ['sessionId', 'from', 'to', 'conn']) {
    if (!isStr(e[key], 128)) throw bad(`envelope field ${key} is not a short string`);
  }
  for (const key of ['attempt', 'token', 'round', 'seq']) {
    if (!isNat(e[key])) throw bad(`envelope field ${key} is not a non-negative integer`);
  }
  if (typeof e['body'] !== 'object' || e['body'] === null || Array.isArray(e['body'])) {
    throw bad('envelope body is not an object');
  }
  if (!isStr(e['sig'], 128) || !/^[0-9a-f]{128}$/.test(e['sig']))
    throw bad('envelope signature malformed');
  return e as unknown as Envelope;
}

/**
 * Per-connection receive guard: checks addressing, connection id, strictly increasing
 * sequence numbers (rejects duplicates and replays) and the sender's signature.
 */
export class EnvelopeGuard {
  private lastSeq = 0;

  constructor(
    private readonly self: string,
    private readonly peer: string,
    private readonly conn: string,
    private readonly peerKey: Uint8Array,
  ) {}

  /** Returns the verified envelope or throws `QUORATE_E_BAD_ENVELOPE`. */
  accept(raw: unknown): Envelope {
    const e = parseEnvelope(raw);
    if (e.from !== this.peer) throw bad('sender does not match the connection', { from: e.from });
    if (e.to !== this.self) throw bad('envelope not addressed to us', { to: e.to });
    if (e.conn !== this.conn)
      throw bad('envelope from another connection (replay)', { conn: e.conn });
    if (e.seq <= this.lastSeq) throw bad('duplicate or replayed sequence number', { seq: e.seq });
    const { sig, ...unsigned } = e;
    if (!verifyDetached(domain, signingBytes(unsigned), hexToBytes(sig), this.peerKey)) {
      throw bad('envelope signature does not verify', { from: e.from, seq: e.seq });
    }
    this.lastSeq = e.seq;
    return e;
  }
}

/** Builds outgoing envelopes for one connection with a strictly increasing sequence. */
export class EnvelopeSender {
  private seq = 0;

  constructor(
    private readonly self: string,
    private readonly peer: string,
    private readonly conn: string,
    private readonly signSecret: Uint8Array,
  ) {}

  build(fields: Omit<UnsignedEnvelope, 'v' | 'from' | 'to' | 'conn' | 'seq'>): Envelope {
    this.seq += 1;
    return sealEnvelope(
      { v: 1, from: this.self, to: this.peer, conn: this.conn, seq: this.seq, ...fields },
      this.signSecret,
    );
  }
}
