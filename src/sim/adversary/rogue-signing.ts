/**
 * The malicious coordinator's signing attacks, on real parties holding real shares. Each attack
 * is one short exchange over the rogue's wire end; every attempt is counted by kind. Shares
 * that come back go to the adversary's loot (loot.ts) with the commitment list each signer was
 * given, so the end-of-run forging attempts can use them.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { sha256Hex } from '../../core/encoding.ts';
import type { Env } from '../../core/env.ts';
import type { SeededRandom } from '../../core/seeded-random.ts';
import { signApproval, type ApprovalSubject } from '../../policy/rules/index.ts';
import {
  buildDiscard,
  buildProtocol,
  buildSignStart,
  type Addressing,
  type Envelope,
  type SignPolicyBlock,
  type SignStartBody,
} from '../../transport/wire.ts';
import {
  allowedDestination,
  blockedDestination,
  custodyAsset,
  type SimGovernance,
} from '../governed-policy.ts';
import { fakeCommitment, type Loot, type TargetWallet } from './loot.ts';
import type { RogueCoordinator } from './rogue-coordinator.ts';
import type { AdversaryWorld } from './world.ts';

type Commitment = { hiding: string; binding: string };
type CommitmentList = Record<string, Commitment>;

/** Time for one exchange to settle on the simulated network (latencies are a few ms). */
const settleMs = 40;

/** t of `wallet`'s parties drawn from `rng`, sorted. */
export function drawQuorum(rng: SeededRandom, wallet: TargetWallet): string[] {
  const pool = [...wallet.parties];
  const chosen: string[] = [];
  while (chosen.length < wallet.threshold && pool.length > 0)
    chosen.push(...pool.splice(rng.int(0, pool.length - 1), 1));
  return chosen.sort();
}

/** Counts attack attempts by kind. */
export class AttackCounts {
  readonly byKind: Record<string, number> = {};

  add(kind: string): void {
    this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
  }
}

/** The signing attacks of one run, over one plain and one governed wallet. */
export class RogueSigning {
  private sessions = 0;
  private readonly env: Env;

  constructor(
    private readonly world: AdversaryWorld,
    private readonly rogue: RogueCoordinator,
    private readonly loot: Loot,
    private readonly counts: AttackCounts,
    private readonly rng: SeededRandom,
    private readonly wallet: TargetWallet,
    private readonly governed: { wallet: TargetWallet; governance: SimGovernance } | undefined,
  ) {
    this.env = world.coordinatorNode.env();
  }

  /** Every signing attack by name, for the run to pick from. */
  readonly catalogue: Record<string, () => Promise<void>> = {
    'honest-signing': () => this.honest(),
    'commitment-equivocation': () => this.equivocate(),
    'reask-share': () => this.reask(),
    'restart-reask': () => this.restartReask(),
    'replay-envelope': () => this.replayEnvelope(),
    'cross-session-replay': () => this.crossSessionReplay(),
    'reorder-rounds': () => this.reorder(),
    'forged-token': () => this.tokens(),
    'bad-signer-set': () => this.badSignerSets(),
    'hedged-final-set': () => this.hedgedFinalSets(),
    'parked-token': () => this.parkedTokens(),
    'governed-policy': () => this.governedRequests(),
  };

  private nextAt(token = 1, attempt = 1): Addressing {
    this.sessions += 1;
    return { sessionId: `s_${this.world.seed}_${this.sessions}`, attempt, token };
  }

  private body(wallet: TargetWallet, signers: string[], extra?: Partial<SignStartBody>) {
    const messageHex = bytesToHex(this.rng.bytes(32));
    const body: SignStartBody = {
      walletId: wallet.walletId,
      intentKey: `intent-${this.rng.hex(8)}`,
      messageHex,
      messageHash: sha256Hex(hexToBytes(messageHex)),
      signers,
      deadlineMs: this.env.nowMs() + 10_000,
      remainingMs: 10_000,
      ...extra,
    };
    return body;
  }

  private quorum(wallet: TargetWallet): string[] {
    return drawQuorum(this.rng, wallet);
  }

  private async settle(): Promise<void> {
    await this.world.run(settleMs);
  }

  private take(partyId: string, at: Addressing, round: number): Envelope[] {
    return this.rogue.take(
      partyId,
      (e) => e.sessionId === at.sessionId && e.kind === 'protocol' && e.round === round,
    );
  }

  /** Sign-start to every signer, then their round-1 commitments. */
  private async commit(at: Addressing, body: SignStartBody): Promise<CommitmentList> {
    for (const p of body.signers) this.rogue.send(p, buildSignStart(at, body));
    await this.settle();
    const list: CommitmentList = {};
    for (const p of body.signers) {
      const e = this.take(p, at, 1)[0];
      const { hiding, binding } = e?.body ?? {};
      if (typeof hiding === 'string' && typeof binding === 'string') list[p] = { hiding, binding };
    }
    return list;
  }

  /** Round 2 to `partyId` under `list`; the share that comes back goes to the loot. */
  private async askShare(
    partyId: string,
    at: Addressing,
    body: SignStartBody,
    list: CommitmentList,
  ): Promise<void> {
    this.rogue.send(partyId, buildProtocol(at, 2, { commitments: list }));
    await this.settle();
    for (const e of this.take(partyId, at, 2)) {
      const share = e.body['share'];
      if (typeof share === 'string')
        this.loot.collected(body.walletId, body.messageHex, { partyId, share, list });
    }
  }

  private async honest(): Promise<void> {
    const at = this.nextAt();
    const body = this.body(this.wallet, this.quorum(this.wallet));
    const list = await this.commit(at, body);
    for (const p of body.signers) await this.askShare(p, at, body, list);
  }

  /** An honest signing whose quorum is the first t of `first` (then any others). */
  async signWith(first: string[]): Promise<void> {
    const rest = this.wallet.parties.filter((p) => !first.includes(p));
    const signers = [...first, ...rest].slice(0, this.wallet.threshold).sort();
    const at = this.nextAt();
    const body = this.body(this.wallet, signers);
    const list = await this.commit(at, body);
    for (const p of body.signers) await this.askShare(p, at, body, list);
  }

  /** A commitment of the adversary's own nonces, posing as the signer's. */
  private fakeCommitment(partyId: string): Commitment {
    return fakeCommitment(this.wallet.scheme, partyId, (n) => this.rng.bytes(n));
  }

  private async equivocate(): Promise<void> {
    this.counts.add('commitment-equivocation');
    const at = this.nextAt();
    const body = this.body(this.wallet, this.quorum(this.wallet));
    const list = await this.commit(at, body);
    const [victim, other] = body.signers;
    if (victim === undefined || other === undefined) return;
    const forged = { ...list, [other]: this.fakeCommitment(other) };
    await this.askShare(victim, at, body, forged);
    for (const p of body.signers.slice(1)) await this.askShare(p, at, body, list);
  }

  private async reask(): Promise<void> {
    this.counts.add('reask-share');
    const at = this.nextAt();
    const body = this.body(this.wallet, this.quorum(this.wallet));
    const list = await this.commit(at, body);
    const [first, other] = body.signers;
    if (first === undefined || other === undefined) return;
    await this.askShare(first, at, body, list);
    // The same commitment again under another list, then another message on the same intent.
    await this.askShare(first, at, body, { ...list, [other]: this.fakeCommitment(other) });
    const again = { ...body, messageHex: bytesToHex(this.rng.bytes(32)) };
    again.messageHash = sha256Hex(hexToBytes(again.messageHex));
    this.counts.add('reask-other-message');
    const list2 = await this.commit(at, again);
    await this.askShare(first, at, again, { ...list, ...list2 });
  }

  private async restartReask(): Promise<void> {
    this.counts.add('restart-reask');
    const at = this.nextAt();
    const body = this.body(this.wallet, this.quorum(this.wallet));
    const list = await this.commit(at, body);
    for (const p of body.signers) this.rogue.send(p, buildDiscard(at, 'restart'));
    await this.settle();
    for (const p of body.signers) await this.askShare(p, at, body, list);
  }

  private async replayEnvelope(): Promise<void> {
    this.counts.add('replay-envelope');
    const at = this.nextAt();
    const body = this.body(this.wallet, this.quorum(this.wallet));
    const list = await this.commit(at, body);
    for (const p of body.signers) await this.askShare(p, at, body, list);
    // Every envelope of that session again, byte for byte, in reverse order.
    for (const p of body.signers)
      for (const e of [...this.rogue.sentTo(p)].reverse())
        if (e.sessionId === at.sessionId) this.rogue.replay(p, e);
    await this.settle();
    for (const p of body.signers) this.take(p, at, 2);
  }

  private async crossSessionReplay(): Promise<void> {
    this.counts.add('cross-session-replay');
    const first = this.nextAt();
    const body = this.body(this.wallet, this.quorum(this.wallet));
    const list = await this.commit(first, body);
    for (const p of body.signers) await this.askShare(p, first, body, list);
    const second = this.nextAt();
    const body2 = { ...body };
    await this.commit(second, body2);
    // The first session's commitments (already spent) into the second session.
    for (const p of body.signers) await this.askShare(p, second, body2, list);
  }

  private async reorder(): Promise<void> {
    this.counts.add('reorder-rounds');
    const at = this.nextAt();
    const body = this.body(this.wallet, this.quorum(this.wallet));
    const [p] = body.signers;
    if (p === undefined) return;
    this.rogue.send(p, buildProtocol(at, 2, { commitments: {} }));
    await this.settle();
    const list = await this.commit(at, body);
    for (const s of body.signers) await this.askShare(s, at, body, list);
  }

  private async tokens(): Promise<void> {
    this.counts.add('forged-token');
    const high = this.nextAt(2 ** 40, 1);
    const body = this.body(this.wallet, this.quorum(this.wallet));
    await this.commit(high, body);
    this.counts.add('stale-token');
    const low = { ...high, token: 3, attempt: 2 };
    const list = await this.commit(low, body);
    for (const p of body.signers) await this.askShare(p, low, body, list);
  }

  private async badSignerSets(): Promise<void> {
    const [a, b] = this.wallet.parties;
    if (a === undefined || b === undefined) return;
    const sets: [string, string[]][] = [
      ['duplicate-signers', Array(this.wallet.threshold).fill(a) as string[]],
      ['short-signers', [a]],
      ['foreign-signers', [a, 'mallory']],
    ];
    for (const [kind, signers] of sets) {
      this.counts.add(kind);
      const at = this.nextAt();
      const body = this.body(this.wallet, signers);
      this.rogue.send(a, buildSignStart(at, body));
      await this.settle();
      const list = { [a]: this.take(a, at, 1)[0]?.body ?? {} };
      const entry = list[a];
      if (typeof entry?.['hiding'] === 'string' && typeof entry['binding'] === 'string')
        await this.askShare(a, at, body, {
          [a]: { hiding: entry['hiding'], binding: entry['binding'] },
        });
    }
  }

  /**
   * Hedged first round: every party asked for round 1 (`quorumSize` t), then round 2 names a
   * final signer set each party must refuse (a party not asked, without the party, the wrong
   * size, one its own rules refuse), or different valid sets to different parties (each
   * share is then useless with the others). A valid governed set is the positive control.
   */
  private async hedgedFinalSets(): Promise<void> {
    const kinds = [
      'final-set-foreign',
      'final-set-without-party',
      'final-set-size',
      'final-set-split',
      'final-set-policy',
    ];
    const kind = kinds[this.rng.int(0, kinds.length - 1)] ?? 'final-set-split';
    this.counts.add(kind);
    if (kind === 'final-set-policy') return this.hedgedPolicy();
    const at = this.nextAt();
    const asked = [...this.wallet.parties].sort();
    const t = this.wallet.threshold;
    const body = this.body(this.wallet, asked, { quorumSize: t });
    const list = await this.commit(at, body);
    const [victim, ...others] = asked;
    if (victim === undefined || others.length < t) return;
    const pick = (ids: string[]): CommitmentList =>
      Object.fromEntries(ids.flatMap((p) => (list[p] ? [[p, list[p]]] : [])));
    if (kind === 'final-set-foreign') {
      const foreign = { ...pick([victim, ...others.slice(0, t - 2)]) };
      foreign['mallory'] = this.fakeCommitment('mallory');
      return this.askShare(victim, at, body, foreign);
    }
    if (kind === 'final-set-without-party')
      return this.askShare(victim, at, body, pick(others.slice(0, t)));
    if (kind === 'final-set-size') return this.askShare(victim, at, body, pick(asked));
    // Split: the first t to some parties, the last t to the others; each party gets one set.
    const first = pick(asked.slice(0, t));
    const last = pick(asked.slice(-t));
    for (const [i, p] of asked.entries()) {
      const mine = i % 2 === 0 ? first : last;
      await this.askShare(p, at, body, p in mine ? mine : p in first ? first : last);
    }
  }

  /**
   * A party asked as a hedge extra parks its sign-start for a grace (src/party/runtime.ts) and
   * holds its token only in memory meanwhile. Within that grace: a lower-token sign-start naming
   * it in the quorum; the parked start's discard, then a lower-token sign-start; or round 2 of
   * an older attempt it had committed to. It must act on none of them (I3, judged at its link).
   */
  private async parkedTokens(): Promise<void> {
    const kinds = ['parked-lower-start', 'parked-discarded-lower-start', 'parked-older-round'];
    const kind = kinds[this.rng.int(0, kinds.length - 1)] ?? 'parked-lower-start';
    const t = this.wallet.threshold;
    const asked = [...this.wallet.parties].sort();
    const victim = asked.at(-1);
    if (victim === undefined || asked.length <= t) return;
    this.counts.add(kind);
    const high = this.nextAt(10, 2);
    const parkedBody = this.body(this.wallet, asked, { quorumSize: t });
    // The victim first: in the quorum, so it answers at once.
    const inQuorum = { ...parkedBody, signers: [victim, ...asked.filter((p) => p !== victim)] };
    const low = { ...high, attempt: 1, token: 9 };
    if (kind === 'parked-older-round') {
      this.rogue.send(victim, buildSignStart(low, inQuorum));
      await this.settle();
      const mine = this.take(victim, low, 1)[0]?.body ?? {};
      const { hiding, binding } = mine;
      if (typeof hiding !== 'string' || typeof binding !== 'string') return;
      // Parked, and at the same instant round 2 of the older attempt.
      this.rogue.send(victim, buildSignStart(high, parkedBody));
      const list: CommitmentList = { [victim]: { hiding, binding } };
      for (const p of inQuorum.signers.slice(1, t)) list[p] = this.fakeCommitment(p);
      return this.askShare(victim, low, inQuorum, list);
    }
    this.rogue.send(victim, buildSignStart(high, parkedBody));
    if (kind === 'parked-discarded-lower-start')
      this.rogue.send(victim, buildDiscard(high, 'not chosen'));
    this.rogue.send(victim, buildSignStart(low, inQuorum));
    await this.settle();
    const { hiding, binding } = this.take(victim, low, 1)[0]?.body ?? {};
    if (typeof hiding !== 'string' || typeof binding !== 'string') return;
    const list: CommitmentList = { [victim]: { hiding, binding } };
    for (const p of inQuorum.signers.slice(1, t)) list[p] = this.fakeCommitment(p);
    await this.askShare(victim, low, inQuorum, list);
  }

  /** A governed custody transfer: its rule requires the custody party among the signers. */
  private async hedgedPolicy(): Promise<void> {
    if (!this.governed) return;
    const { wallet, governance } = this.governed;
    const custody = [...wallet.parties].sort()[0];
    if (custody === undefined) return;
    const block: SignPolicyBlock = {
      tier: governance.tier,
      policyHash: governance.policy.policyHash,
      context: { asset: custodyAsset, amount: '10', destination: allowedDestination },
      approvals: [],
    };
    for (const withCustody of [false, true]) {
      const at = this.nextAt();
      const asked = [...wallet.parties].sort();
      const body = { ...this.body(wallet, asked, { quorumSize: wallet.threshold }), policy: block };
      const list = await this.commit(at, body);
      const pool = asked.filter((p) => withCustody || p !== custody);
      const chosen = Object.fromEntries(
        pool.slice(0, wallet.threshold).flatMap((p) => (list[p] ? [[p, list[p]]] : [])),
      );
      for (const p of Object.keys(chosen)) await this.askShare(p, at, body, chosen);
    }
  }

  private async governedRequests(): Promise<void> {
    if (!this.governed) return;
    const { wallet, governance } = this.governed;
    const kinds = ['policy-deny', 'missing-approvals', 'forged-approvals', 'replayed-approvals'];
    const kind = kinds[this.rng.int(0, kinds.length - 1)] ?? 'policy-deny';
    this.counts.add(kind);
    const at = this.nextAt();
    const body = this.body(wallet, this.quorum(wallet));
    const block = this.policyBlock(kind, at.sessionId, body, governance);
    const governedBody = { ...body, policy: block };
    const list = await this.commit(at, governedBody);
    for (const p of Object.keys(list)) await this.askShare(p, at, governedBody, list);
    // A small, allowed transfer beside it: the rules' positive control.
    const ok = this.nextAt();
    const small = this.body(wallet, this.quorum(wallet));
    const allowed = {
      ...small,
      policy: this.blockOf(governance, { amount: '10', destination: allowedDestination }, []),
    };
    const okList = await this.commit(ok, allowed);
    for (const p of Object.keys(okList)) await this.askShare(p, ok, allowed, okList);
  }

  private blockOf(
    governance: SimGovernance,
    fields: { amount: string; destination: string },
    approvals: SignPolicyBlock['approvals'],
  ): SignPolicyBlock {
    return {
      tier: governance.tier,
      policyHash: governance.policy.policyHash,
      context: { asset: 'USDC', ...fields },
      approvals,
    };
  }

  private policyBlock(
    kind: string,
    sessionId: string,
    body: SignStartBody,
    governance: SimGovernance,
  ): SignPolicyBlock {
    const large = { amount: '5000', destination: allowedDestination };
    if (kind === 'policy-deny')
      return this.blockOf(governance, { amount: '10', destination: blockedDestination }, []);
    if (kind === 'missing-approvals') return this.blockOf(governance, large, []);
    const subject: ApprovalSubject = {
      sessionId,
      walletId: body.walletId,
      intentKey: body.intentKey,
      messageHash: body.messageHash,
      context: { asset: 'USDC', ...large },
      policyHash: governance.policy.policyHash,
    };
    const approvers = governance.approvers.slice(0, 2);
    if (kind === 'forged-approvals') {
      const key = this.rng.bytes(32);
      const approvals = approvers.map((a) => ({
        approverId: a.id,
        signature: signApproval(subject, key),
      }));
      return this.blockOf(governance, large, approvals);
    }
    // Genuine approvals of another request (another message), replayed on this one.
    const other = { ...subject, messageHash: sha256Hex(this.rng.bytes(32)) };
    const approvals = approvers.map((a) => ({
      approverId: a.id,
      signature: signApproval(other, a.secretKey),
    }));
    return this.blockOf(governance, large, approvals);
  }
}
