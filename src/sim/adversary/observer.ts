/**
 * What the harness sees of every party, without touching party code: an {@link ObservedLink}
 * sits between a party's runtime and its connection and records the sign-starts the party
 * received and the commitments, signature shares and refusals it sent; an
 * {@link ObservedJournal} records every key share the party stored (activated), opened with the
 * party's own sealer to read the public result. A2 needs a verdict on each sign-start: the
 * harness's judge gives it from the party's own policy (judge.ts).
 */
import { canonicalJson, sha256Hex } from '../../core/encoding.ts';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { signIdOf } from '../../protocol/ecdsa-common.ts';
import { MemoryJournal } from '../../party/journal-memory.ts';
import type { SecretSealer } from '../../party/runtime.ts';
import type { Link } from '../../transport/link.ts';
import {
  validateFrame,
  validateRefuse,
  validateSignStart,
  type Envelope,
  type SignStartBody,
} from '../../transport/wire.ts';
import type {
  AdversaryActivation,
  AdversaryRelease,
  AdversaryStaleAction,
  SignVerdict,
} from '../../checker/adversary-types.ts';

/**
 * Judges a sign-start as `partyId`'s own rules would (governed, permitted, why), on the final
 * signer set its round-2 message named when there is one.
 */
export type SignJudge = (
  body: SignStartBody,
  sessionId: string,
  partyId: string,
  finalSigners?: readonly string[],
) => SignVerdict;

interface SignSeen {
  body: SignStartBody;
  verdict: SignVerdict;
}

/** Everything observed at the parties of one run. */
export class PartyObservations {
  readonly releases: AdversaryRelease[] = [];
  readonly activations: AdversaryActivation[] = [];
  /** Refusals sent by honest parties, by code. */
  readonly refusals: Record<string, number> = {};
  private readonly signs = new Map<string, SignSeen>();
  private readonly commitments = new Map<string, string>();
  /** The signer set the latest round-2 message to a party named (its commitment list). */
  private readonly finalSets = new Map<string, string[]>();
  /** The highest token each party received per session in a valid sign-start or discard. */
  private readonly tokensReceived = new Map<string, number>();
  /** Honest parties' commitments and shares under a lower token than one received (I3). */
  readonly staleActions: AdversaryStaleAction[] = [];

  constructor(private readonly judge: SignJudge) {}

  /** A frame reached `partyId`'s runtime. */
  incoming(partyId: string, raw: unknown): void {
    const frame = validateFrame(raw);
    if (!frame.ok || frame.value.t !== 'env') return;
    const e = frame.value.e;
    if (e.kind === 'discard') this.tokenReceived(partyId, e);
    if (e.kind === 'protocol' && e.round === 2) {
      const list = e.body['commitments'];
      if (typeof list === 'object' && list !== null && !Array.isArray(list))
        this.finalSets.set(keyOf(partyId, e), Object.keys(list));
      return;
    }
    if (e.kind !== 'sign-start') return;
    const body = validateSignStart(e.body);
    if (!body.ok) return;
    this.tokenReceived(partyId, e);
    const verdict = this.judge(body.value, e.sessionId, partyId);
    this.signs.set(keyOf(partyId, e), { body: body.value, verdict });
  }

  /** Raises the highest token `partyId` received for `e`'s session to `e`'s. */
  private tokenReceived(partyId: string, e: Envelope): void {
    const key = `${partyId}|${e.sessionId}`;
    this.tokensReceived.set(key, Math.max(this.tokensReceived.get(key) ?? 0, e.token));
  }

  /** `partyId`'s runtime sent a frame. */
  outgoing(partyId: string, honest: boolean, raw: unknown): void {
    const frame = validateFrame(raw);
    if (!frame.ok || frame.value.t !== 'env') return;
    const e = frame.value.e;
    if (e.kind === 'refuse' && honest) {
      const refusal = validateRefuse(e.body);
      if (refusal.ok)
        this.refusals[refusal.value.code] = (this.refusals[refusal.value.code] ?? 0) + 1;
      return;
    }
    const highestReceived = this.tokensReceived.get(`${partyId}|${e.sessionId}`) ?? 0;
    if (e.kind === 'protocol' && honest && e.token < highestReceived)
      this.staleActions.push({
        partyId,
        sessionId: e.sessionId,
        round: e.round,
        token: e.token,
        highestReceived,
      });
    const seen = this.signs.get(keyOf(partyId, e));
    if (e.kind !== 'protocol' || !seen) return;
    if (e.round === 3) {
      this.ecdsaRelease(partyId, honest, e, seen);
      return;
    }
    const { hiding, binding, share } = e.body;
    if (e.round === 1 && typeof hiding === 'string' && typeof binding === 'string')
      this.commitments.set(keyOf(partyId, e), hiding + binding);
    if (e.round !== 2 || typeof share !== 'string') return;
    const finalSet = this.finalSets.get(keyOf(partyId, e));
    const verdict = finalSet ? this.judge(seen.body, e.sessionId, partyId, finalSet) : seen.verdict;
    const commitment = this.commitments.get(keyOf(partyId, e)) ?? '';
    this.releases.push({ ...releaseOf(partyId, honest, e, seen), commitment, share, ...verdict });
  }

  /**
   * An ecdsa signer's round-3 broadcast `{x, u, w}`: the output of the phase that spends its
   * one-time secret, named as the party's journal names it (by the engine's sign id of the run
   * and the party), so two broadcasts under one secret are I2.
   */
  private ecdsaRelease(partyId: string, honest: boolean, e: Envelope, seen: SignSeen): void {
    const { x, u, w } = e.body;
    if (typeof x !== 'string' || typeof u !== 'string' || typeof w !== 'string') return;
    const runId = `${seen.body.walletId}|${e.sessionId}|${e.attempt}|${e.token}`;
    const commitment = `dkls23-sign:${bytesToHex(signIdOf(runId))}:${partyId}`;
    const share = x + u + w;
    this.releases.push({
      ...releaseOf(partyId, honest, e, seen),
      commitment,
      share,
      ...seen.verdict,
    });
  }

  /** `partyId` stored a key share of `walletId` (sealed): record what it activated. */
  stored(
    partyId: string,
    honest: boolean,
    walletId: string,
    sealer: SecretSealer,
    sealed: string,
  ): void {
    let publicKey = '';
    let packageHash = '';
    try {
      const share: unknown = JSON.parse(
        new TextDecoder().decode(sealer.open(`share:${walletId}`, sealed)),
      );
      if (typeof share === 'object' && share !== null && !Array.isArray(share)) {
        const fields = share as Record<string, unknown>;
        publicKey = typeof fields['publicKey'] === 'string' ? fields['publicKey'] : '';
        packageHash = sha256Hex(utf8ToBytes(canonicalJson(fields['publicPackage'] ?? null)));
      }
    } catch {
      publicKey = 'unreadable';
    }
    this.activations.push({ partyId, honest, walletId, publicKey, packageHash });
  }
}

/** The fields of a release that say who released it, where, and for what request. */
const releaseOf = (partyId: string, honest: boolean, e: Envelope, seen: SignSeen) => ({
  partyId,
  honest,
  sessionId: e.sessionId,
  attempt: e.attempt,
  walletId: seen.body.walletId,
  messageHash: seen.body.messageHash,
});

const keyOf = (partyId: string, e: Pick<Envelope, 'sessionId' | 'attempt'>): string =>
  `${partyId}|${e.sessionId}|${e.attempt}`;

/** A party's end of a connection, observed both ways. */
export class ObservedLink implements Link {
  constructor(
    private readonly inner: Link,
    private readonly partyId: string,
    private readonly honest: boolean,
    private readonly observations: PartyObservations,
  ) {}

  get isOpen(): boolean {
    return this.inner.isOpen;
  }

  send(frame: unknown): void {
    if (this.inner.isOpen) this.observations.outgoing(this.partyId, this.honest, frame);
    this.inner.send(frame);
  }

  close(reason: string): void {
    this.inner.close(reason);
  }

  onFrame(handler: (frame: unknown) => void): void {
    this.inner.onFrame((frame) => {
      this.observations.incoming(this.partyId, frame);
      handler(frame);
    });
  }

  onClose(handler: (reason: string) => void): void {
    this.inner.onClose(handler);
  }
}

/** The simulator's memory journal, telling the harness about every share stored. */
export class ObservedJournal extends MemoryJournal {
  constructor(
    nowMs: number,
    private readonly onStored: (walletId: string, sealed: string) => void,
  ) {
    super(nowMs);
  }

  override putSealedShare(walletId: string, sealed: string): void {
    super.putSealedShare(walletId, sealed);
    // A staged next-epoch share (row `{walletId}/staged`) is not active: it is seen when its
    // commit promotes it into the wallet's own row.
    if (!walletId.includes('/')) this.onStored(walletId, sealed);
  }
}
