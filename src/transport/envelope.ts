/**
 * Wire envelopes. Every protocol frame is bound to `(sessionId, attempt, token, round, from,
 * to)`, carries the connection id and a strictly increasing sequence number, and is signed by
 * the sender's Ed25519 identity key over its canonical JSON. {@link EnvelopeGuard} rejects
 * bad signatures, wrong addressing, other connections (replays) and duplicates.
 */
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../core/encoding.ts';
import { QuorateError } from '../core/errors.ts';
import { signDetached, verifyDetached } from './identity.ts';
import {
  validateEnvelope,
  type Envelope,
  type EnvelopeFields,
  type UnsignedEnvelope,
} from './wire.ts';

export type { Envelope, EnvelopeFields, EnvelopeKind, UnsignedEnvelope } from './wire.ts';

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
    const checked = validateEnvelope(raw);
    if (!checked.ok) throw bad(checked.reason);
    const e = checked.value;
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

  build(fields: EnvelopeFields): Envelope {
    this.seq += 1;
    return sealEnvelope(
      { v: 1, from: this.self, to: this.peer, conn: this.conn, seq: this.seq, ...fields },
      this.signSecret,
    );
  }
}
