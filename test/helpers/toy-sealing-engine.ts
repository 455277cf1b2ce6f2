/**
 * A test-only engine of THREE signing rounds whose party-to-party messages are sealed to their
 * recipient and relayed by the coordinator: it wraps a FROST engine (keygen and verify are the
 * inner engine's, unchanged) and puts a round of sealed notes in front of FROST's two rounds.
 *
 * - round 1: each signer sends the coordinator one sealed note per other signer (random bytes
 *   from its rng), no FROST yet; the aggregator waits for every signer, then sends each signer
 *   the notes addressed to it, still sealed.
 * - round 2: each signer opens every note addressed to it (one that does not open is an abort
 *   blaming its sender), then sends FROST's round 1 (its commitment) with a digest of the sealed
 *   notes it opened; the aggregator checks each digest against what it relayed to that signer
 *   (blame on mismatch), then goes on as FROST's aggregator does (the signing package).
 * - round 3: FROST's round 2 (the signature share). The signer's one-time secret is FROST's
 *   nonce, spent at round 3.
 *
 * Round numbers follow the runtimes: a party's message of round r answers the coordinator's
 * message of round r (sign-start opens round 1); the coordinator's SigningAttempt moves to the
 * next round each time the aggregator sends something. The inner FROST roles keep their own
 * numbering (1 and 2): this wrapper shifts them by one.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { canonicalJson, sha256Hex } from '../../src/core/encoding.ts';
import {
  coordinatorRole,
  type AggregatorArgs,
  type OneTimeSecret,
  type Payload,
  type ProtocolAbort,
  type ProtocolMessage,
  type ProtocolRole,
  type ProtocolStep,
  type SignatureEngine,
  type SignerArgs,
  type SignerResult,
  type SignerRole,
} from '../../src/protocol/engine.ts';

/** Bytes of each note (random, from the signer's rng). */
export const toyNoteBytes = 32;

/** Observes every note a signer draws, in plaintext (tests check it never travels in clear). */
export interface ToySealingOptions {
  onNote?(note: { from: string; to: string; plaintextHex: string }): void;
}

const continueWith = <R>(outgoing: ProtocolMessage[]): ProtocolStep<R> => ({
  kind: 'continue',
  outgoing,
});

const abortStep = <R>(reason: string, blamed: string[], evidence = {}): ProtocolStep<R> => ({
  kind: 'abort',
  outgoing: [],
  abort: { reason, blamed, evidence } satisfies ProtocolAbort,
});

/** `payload[key]` as a record of strings with exactly `keys`, or undefined. */
function stringRecord(
  payload: Payload,
  key: string,
  keys: readonly string[],
): Record<string, string> | undefined {
  const value = payload[key];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length !== keys.length) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (!keys.includes(k) || typeof v !== 'string') return undefined;
    out[k] = v;
  }
  return out;
}

/** The digest a signer reports of the sealed notes it received (by sender). */
export function notesDigest(notes: Record<string, string>): string {
  return sha256Hex(new TextEncoder().encode(canonicalJson(notes)));
}

/** Shifts a message of the inner FROST role by `by` rounds. */
const shift = (message: ProtocolMessage, by: number): ProtocolMessage => ({
  ...message,
  round: message.round + by,
});

function shiftStep<R>(step: ProtocolStep<R>, by: number): ProtocolStep<R> {
  return { ...step, outgoing: step.outgoing.map((m) => shift(m, by)) };
}

class ToySigner implements SignerRole {
  round = 0;
  private readonly inner: SignerRole;
  private readonly self: string;
  private readonly peers: string[];

  constructor(
    innerEngine: SignatureEngine,
    private readonly args: SignerArgs,
    private readonly options: ToySealingOptions,
  ) {
    this.inner = innerEngine.signer(args);
    this.self = args.key.partyId;
    this.peers = args.signers.filter((p) => p !== this.self);
  }

  start(): ProtocolStep<SignerResult> {
    if (this.round !== 0) return abortStep('signer started twice', []);
    const notes: Record<string, string> = {};
    for (const to of this.peers) {
      const plaintext = this.args.rng(toyNoteBytes);
      this.options.onNote?.({ from: this.self, to, plaintextHex: bytesToHex(plaintext) });
      notes[to] = this.args.sealer.seal(to, plaintext);
      plaintext.fill(0);
    }
    this.round = 2;
    return continueWith([{ from: this.self, to: coordinatorRole, round: 1, payload: { notes } }]);
  }

  handle(message: ProtocolMessage): ProtocolStep<SignerResult> {
    if (this.round === 2 && message.round === 2) return this.onNotes(message);
    if (this.round === 3 && message.round === 3) {
      // FROST's round 2 (it checks its own round number): the share, spent nonce.
      const step = this.inner.handle(shift(message, -1));
      if (step.kind !== 'continue') this.round = -1;
      return shiftStep(step, 1);
    }
    return abortStep(`unexpected round ${message.round}`, [message.from]);
  }

  private onNotes(message: ProtocolMessage): ProtocolStep<SignerResult> {
    const notes = stringRecord(message.payload, 'notes', this.peers);
    if (!notes) return abortStep('relayed notes do not match the other signers', [message.from]);
    for (const from of this.peers) {
      try {
        this.args.sealer.open(from, notes[from] as string).fill(0);
      } catch (error) {
        this.round = -1;
        return abortStep(`note from ${from} does not open`, [from], { error: String(error) });
      }
    }
    const step = this.inner.start(); // FROST's round 1: draws the nonce, sends its commitment
    if (step.kind !== 'continue' || step.outgoing.length !== 1) {
      this.round = -1;
      return step.kind === 'abort' ? step : abortStep('inner signer did not commit', []);
    }
    const commitment = step.outgoing[0] as ProtocolMessage;
    this.round = 3;
    const payload = { ...commitment.payload, notesDigest: notesDigest(notes) };
    return continueWith([{ ...commitment, round: 2, payload }]);
  }

  wipe(): void {
    this.inner.wipe();
    this.round = -1;
  }

  /** FROST's nonce (named by its commitment), spent by the round-3 signing package. */
  oneTimeSecret(): OneTimeSecret | undefined {
    const inner = this.inner.oneTimeSecret();
    return inner ? { id: inner.id, spentAtRound: 3 } : undefined;
  }
}

class ToyAggregator implements ProtocolRole<{ signature: string }> {
  round = 0;
  private readonly inner: ProtocolRole<{ signature: string }>;
  /** Sealed notes by sender, then by recipient. */
  private readonly sent = new Map<string, Record<string, string>>();
  /** What each signer must report it received: the digest of the notes relayed to it. */
  private readonly expected = new Map<string, string>();
  private readonly digested = new Set<string>();

  constructor(
    innerEngine: SignatureEngine,
    private readonly args: AggregatorArgs,
  ) {
    this.inner = innerEngine.aggregator(args);
  }

  start(): ProtocolStep<{ signature: string }> {
    this.inner.start();
    this.round = 1;
    return continueWith([]);
  }

  handle(message: ProtocolMessage): ProtocolStep<{ signature: string }> {
    if (!this.args.signers.includes(message.from))
      return abortStep('not a signer of this attempt', [message.from]);
    if (this.round === 1 && message.round === 1) return this.onNotes(message);
    if (this.round === 2 && message.round === 2) return this.onCommitment(message);
    if (this.round === 3 && message.round === 3) {
      const step = this.inner.handle(shift(message, -1));
      if (step.kind !== 'continue') this.round = -1;
      return shiftStep(step, 1);
    }
    return continueWith([]); // late or early duplicates are ignored, as FROST's aggregator does
  }

  private onNotes(message: ProtocolMessage): ProtocolStep<{ signature: string }> {
    const others = this.args.signers.filter((p) => p !== message.from);
    const notes = stringRecord(message.payload, 'notes', others);
    if (!notes) return abortStep('notes do not address exactly the other signers', [message.from]);
    this.sent.set(message.from, notes);
    if (this.sent.size < this.args.signers.length) return continueWith([]);
    this.round = 2;
    const outgoing = this.args.signers.map((to): ProtocolMessage => {
      const toThem: Record<string, string> = {};
      for (const [from, byRecipient] of this.sent) {
        if (from !== to) toThem[from] = byRecipient[to] as string;
      }
      this.expected.set(to, notesDigest(toThem));
      return { from: coordinatorRole, to, round: 2, payload: { notes: toThem } };
    });
    return continueWith(outgoing);
  }

  private onCommitment(message: ProtocolMessage): ProtocolStep<{ signature: string }> {
    if (this.digested.has(message.from)) return continueWith([]);
    const { notesDigest: digest, ...commitment } = message.payload;
    if (digest !== this.expected.get(message.from)) {
      this.round = -1;
      return abortStep('notes digest does not match the notes relayed', [message.from], {
        digest,
        expected: this.expected.get(message.from),
      });
    }
    this.digested.add(message.from);
    const step = this.inner.handle({ ...message, round: 1, payload: commitment });
    if (step.kind === 'abort') this.round = -1;
    else if (step.outgoing.length > 0) this.round = 3;
    return shiftStep(step, 1);
  }

  wipe(): void {
    this.inner.wipe();
    this.round = -1;
  }
}

/**
 * `inner` (a FROST engine) signing in three rounds with a round of sealed party-to-party notes
 * first; keygen and verification are `inner`'s.
 */
export function toySealingEngine(
  inner: SignatureEngine,
  options: ToySealingOptions = {},
): SignatureEngine {
  return {
    scheme: inner.scheme,
    signingSealsPeerMessages: true,
    keygenParticipant: (args) => inner.keygenParticipant(args),
    keygenCoordinator: (args) => inner.keygenCoordinator(args),
    signer: (args) => new ToySigner(inner, args, options),
    aggregator: (args) => new ToyAggregator(inner, args),
    verify: (signature, message, publicKey) => inner.verify(signature, message, publicKey),
  };
}
