/**
 * The malicious coordinator's attacks on threshold-ECDSA (DKLs23) signing, on real parties with
 * real engine instances and real shares. The rogue relays with the real coordinator role
 * (`ecdsaEngine().aggregator`) and tampers where an attack says so. What every party released
 * is recorded by the observer (observer.ts): an ecdsa release is a signer's round-3 broadcast
 * `{x, u, w}`, the output of the phase that spends its one-time secret and that, t of them
 * together, makes the signature. At the end the rogue tries to make signatures from every set of
 * releases it holds (`combineReleases`), and A1 judges them.
 *
 * Attacks, each counted by kind:
 * - `ecdsa-honest`: the positive control; its releases combine into a valid signature.
 * - `ecdsa-sign-start-replay`: a finished run's sign-start and round messages again, byte for
 *   byte and as fresh envelopes: one secret, one phase 3 (I2).
 * - `ecdsa-phase3-again`: round 3 sent twice within one run, then after a `restart` discard.
 * - `ecdsa-cross-session-boxes`: a new session relayed with the sealed boxes of an old one.
 * - `ecdsa-lying-messages`: one run, a different digest for each signer: no combination of
 *   their broadcasts may verify on a digest some contributor was not given.
 * - `ecdsa-bad-broadcasts`: round 4 with a `u` out of range, `u` values summing to zero, or a
 *   point for `x` that is no x-coordinate: refused, never a crash.
 * - `ecdsa-bad-boxes`: round 2 with boxes swapped between senders or truncated, or round 3
 *   relaying the genuine boxes of round 2 again.
 * - `ecdsa-nonce-conflict`: two transactions with one account nonce and different transfers,
 *   in two sessions: a party signs at most one content per slot.
 * - `ecdsa-governed`: a governed wallet's request its rules deny, one missing approvals, and an
 *   allowed one as the control (A2).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { Transaction } from 'micro-eth-signer';
import { sha256Hex } from '../../core/encoding.ts';
import type { SeededRandom } from '../../core/seeded-random.ts';
import { verifyEcdsa } from '../../protocol/ecdsa-common.ts';
import { ecdsaEngine } from '../../protocol/ecdsa.ts';
import type {
  AggregateResult,
  Payload,
  ProtocolMessage,
  ProtocolRole,
} from '../../protocol/engine.ts';
import { decodeEvmTransaction, type EvmTransaction } from '../../protocol/evm-transaction.ts';
import {
  buildDiscard,
  buildProtocol,
  buildSignStart,
  validateProtocol,
  type Addressing,
  type Envelope,
  type SignPolicyBlock,
  type SignStartBody,
} from '../../transport/wire.ts';
import { createSealer } from '../../protocol/sealed-box.ts';
import type { PartyCertificate } from '../../transport/certificate.ts';
import { generateIdentity } from '../../transport/identity.ts';
import { allowedDestination, blockedDestination, type SimGovernance } from '../governed-policy.ts';
import type { Loot, TargetWallet } from './loot.ts';
import type { RogueCoordinator } from './rogue-coordinator.ts';
import { drawQuorum, type AttackCounts } from './rogue-signing.ts';
import type { AdversaryWorld } from './world.ts';

/** Time for one exchange to settle on the simulated network (an engine phase runs in it). */
const settleMs = 60;
const n = secp256k1.Point.Fn.ORDER;

/** How a relayed round is changed before it leaves: per recipient, the payload it gets. */
type Tamper = (round: number, to: string, payload: Payload) => Payload;

/** What one driven run saw. */
interface DrivenRun {
  bodies: Map<string, SignStartBody>;
  /** Each round's relayed payload per recipient, as sent. */
  relayed: Map<number, Map<string, Payload>>;
}

/** The ecdsa signing attacks of one run, over one plain and one governed wallet. */
export class RogueEcdsaSigning {
  private sessions = 0;
  /** Every round-3 broadcast taken, by run (`sessionId|attempt|token`). */
  private readonly broadcasts = new Map<
    string,
    { walletId: string; partyId: string; digest: string; x: string; u: string; w: string }[]
  >();

  constructor(
    private readonly world: AdversaryWorld,
    private readonly rogue: RogueCoordinator,
    private readonly counts: AttackCounts,
    private readonly loot: Loot,
    private readonly rng: SeededRandom,
    private readonly wallet: TargetWallet,
    /** Each target wallet's public package, by wallet id. */
    private readonly packages: ReadonlyMap<string, Payload>,
    private readonly governed: { wallet: TargetWallet; governance: SimGovernance },
  ) {}

  /** The ecdsa attacks by name, for the run to pick from. */
  readonly catalogue: Record<string, () => Promise<void>> = {
    'ecdsa-honest': () => this.honest(),
    'ecdsa-sign-start-replay': () => this.signStartReplay(),
    'ecdsa-phase3-again': () => this.phase3Again(),
    'ecdsa-cross-session-boxes': () => this.crossSessionBoxes(),
    'ecdsa-lying-messages': () => this.lyingMessages(),
    'ecdsa-bad-broadcasts': () => this.badBroadcasts(),
    'ecdsa-bad-boxes': () => this.badBoxes(),
    'ecdsa-nonce-conflict': () => this.nonceConflict(),
    'ecdsa-governed': () => this.governedRequests(),
    'ecdsa-box-key-substitution': () => this.boxKeySubstitution(),
  };

  private nextAt(): Addressing {
    this.sessions += 1;
    return { sessionId: `s_${this.world.seed}_e${this.sessions}`, attempt: 1, token: 1 };
  }

  private quorum(wallet: TargetWallet): string[] {
    return drawQuorum(this.rng, wallet);
  }

  private body(wallet: TargetWallet, signers: string[], digest?: Uint8Array): SignStartBody {
    const messageHex = bytesToHex(digest ?? this.rng.bytes(32));
    return {
      walletId: wallet.walletId,
      intentKey: `intent-${this.rng.hex(8)}`,
      messageHex,
      messageHash: sha256Hex(hexToBytes(messageHex)),
      signers,
      deadlineMs: this.world.coordinatorNode.env().nowMs() + 20_000,
      remainingMs: 20_000,
    };
  }

  private async settle(): Promise<void> {
    await this.world.run(settleMs);
  }

  private take(partyId: string, at: Addressing, round: number): Envelope[] {
    return this.rogue.take(
      partyId,
      (e) =>
        e.sessionId === at.sessionId &&
        e.attempt === at.attempt &&
        e.kind === 'protocol' &&
        e.round === round,
    );
  }

  /**
   * Drives one run: sign-start (each signer its own body), then the rounds through the real
   * aggregator, with `tamper` applied to what is relayed. Stops where a round goes unanswered.
   */
  private async drive(
    at: Addressing,
    bodies: Map<string, SignStartBody>,
    tamper: Tamper = (_r, _to, p) => p,
  ): Promise<DrivenRun> {
    const signers = [...bodies.keys()];
    const first = bodies.get(signers[0] ?? '') as SignStartBody;
    const run: DrivenRun = { bodies, relayed: new Map() };
    const aggregator: ProtocolRole<AggregateResult> = ecdsaEngine().aggregator({
      publicPackage: this.publicPackageOf(first.walletId),
      message: hexToBytes(first.messageHex),
      signers,
    });
    aggregator.start();
    for (const [p, body] of bodies) this.rogue.send(p, buildSignStart(at, this.keyed(body)));
    for (let round = 1; round <= 4; round++) {
      await this.settle();
      const outgoing: ProtocolMessage[] = [];
      for (const p of signers) {
        const e = this.take(p, at, round)[0];
        const payload = e === undefined ? undefined : validateProtocol(e.body);
        if (!payload?.ok) return run;
        if (round === 3) this.keepBroadcast(at, bodies.get(p) as SignStartBody, p, payload.value);
        const step = aggregator.handle({
          from: p,
          to: 'coordinator',
          round,
          payload: payload.value,
        });
        // Aborted, or done: the signature is the rogue's to keep, and the loot combines it anyway.
        if (step.kind !== 'continue') return run;
        outgoing.push(...step.outgoing);
      }
      const sent = new Map<string, Payload>();
      for (const m of outgoing) {
        const payload = tamper(m.round, m.to, m.payload);
        sent.set(m.to, payload);
        this.rogue.send(m.to, buildProtocol(at, m.round, payload));
      }
      run.relayed.set(round + 1, sent);
    }
    return run;
  }

  /**
   * `body` with the signers' box keys and operator certificates from their hellos, as the real
   * coordinator sends them (an attack may have set its own box keys already).
   */
  private keyed(body: SignStartBody): SignStartBody {
    const boxKeys: Record<string, string> = {};
    const certificates: Record<string, PartyCertificate> = {};
    for (const p of body.signers) {
      const hello = this.rogue.hello(p);
      if (hello) boxKeys[p] = hello.boxKey;
      if (hello?.certificate) certificates[p] = hello.certificate;
    }
    return { ...body, boxKeys: { ...boxKeys, ...body.boxKeys }, certificates };
  }

  private publicPackageOf(walletId: string): Payload {
    const found = this.packages.get(walletId);
    if (!found) throw new Error(`no public package for ${walletId}`);
    return found;
  }

  private keepBroadcast(at: Addressing, body: SignStartBody, partyId: string, p: Payload): void {
    const { x, u, w } = p;
    if (typeof x !== 'string' || typeof u !== 'string' || typeof w !== 'string') return;
    const key = `${at.sessionId}|${at.attempt}|${at.token}`;
    const list = this.broadcasts.get(key) ?? [];
    list.push({ walletId: body.walletId, partyId, digest: body.messageHex, x, u, w });
    this.broadcasts.set(key, list);
  }

  private sameBody(wallet: TargetWallet): Map<string, SignStartBody> {
    const signers = this.quorum(wallet);
    const body = this.body(wallet, signers);
    return new Map(signers.map((p) => [p, body]));
  }

  private async honest(): Promise<void> {
    this.counts.add('ecdsa-honest');
    await this.drive(this.nextAt(), this.sameBody(this.wallet));
  }

  private async signStartReplay(): Promise<void> {
    this.counts.add('ecdsa-sign-start-replay');
    const at = this.nextAt();
    const bodies = this.sameBody(this.wallet);
    const run = await this.drive(at, bodies);
    // Byte for byte, every envelope of the run again, in order; then as fresh envelopes.
    for (const p of bodies.keys())
      for (const e of this.rogue.sentTo(p))
        if (e.sessionId === at.sessionId) this.rogue.replay(p, e);
    await this.settle();
    for (const [p, body] of bodies) this.rogue.send(p, buildSignStart(at, body));
    await this.settle();
    for (const round of [2, 3, 4])
      for (const [p, payload] of run.relayed.get(round) ?? [])
        this.rogue.send(p, buildProtocol(at, round, payload));
    await this.settle();
    for (const p of bodies.keys()) for (const round of [1, 2, 3, 4]) this.take(p, at, round);
  }

  private async phase3Again(): Promise<void> {
    this.counts.add('ecdsa-phase3-again');
    const at = this.nextAt();
    const bodies = this.sameBody(this.wallet);
    // Stop relaying after round 3 went out twice: the first copy runs phase 3, the second must not.
    let sentRound3 = false;
    const run = await this.drive(at, bodies, (round, to, payload) => {
      if (round === 3) {
        this.rogue.send(to, buildProtocol(at, 3, payload));
        sentRound3 = true;
      }
      return payload;
    });
    if (!sentRound3) return;
    // A restart discard, then round 3 once more: the secret is gone.
    for (const p of bodies.keys()) this.rogue.send(p, buildDiscard(at, 'restart'));
    await this.settle();
    for (const [p, payload] of run.relayed.get(3) ?? [])
      this.rogue.send(p, buildProtocol(at, 3, payload));
    await this.settle();
  }

  private async crossSessionBoxes(): Promise<void> {
    this.counts.add('ecdsa-cross-session-boxes');
    const old = await this.drive(this.nextAt(), this.sameBody(this.wallet));
    const at = this.nextAt();
    const signers = [...old.bodies.keys()];
    const body = this.body(this.wallet, signers);
    await this.drive(
      at,
      new Map(signers.map((p) => [p, body])),
      (round, to, payload) => old.relayed.get(round)?.get(to) ?? payload,
    );
  }

  private async lyingMessages(): Promise<void> {
    this.counts.add('ecdsa-lying-messages');
    const signers = this.quorum(this.wallet);
    const shared = this.body(this.wallet, signers);
    const bodies = new Map(
      signers.map((p) => {
        const messageHex = bytesToHex(this.rng.bytes(32));
        return [p, { ...shared, messageHex, messageHash: sha256Hex(hexToBytes(messageHex)) }];
      }),
    );
    await this.drive(this.nextAt(), bodies);
  }

  private async badBroadcasts(): Promise<void> {
    const kinds = ['u-out-of-range', 'u-sum-zero', 'x-not-a-coordinate'] as const;
    const kind = kinds[this.rng.int(0, kinds.length - 1)] ?? 'u-sum-zero';
    this.counts.add(`ecdsa-bad-broadcasts:${kind}`);
    await this.drive(this.nextAt(), this.sameBody(this.wallet), (round, _to, payload) =>
      round === 4 ? badBroadcasts(kind, payload) : payload,
    );
  }

  private async badBoxes(): Promise<void> {
    const kinds = ['swapped', 'truncated', 'previous-round'] as const;
    const kind = kinds[this.rng.int(0, kinds.length - 1)] ?? 'swapped';
    this.counts.add(`ecdsa-bad-boxes:${kind}`);
    // Previous round: round 3 relays the round-2 boxes again (genuine, sealed by the same
    // peers, tagged with the round they were sealed for).
    const round2 = new Map<string, Payload>();
    await this.drive(this.nextAt(), this.sameBody(this.wallet), (round, to, payload) => {
      if (round === 2) round2.set(to, payload);
      if (kind === 'previous-round') return round === 3 ? (round2.get(to) ?? payload) : payload;
      return round === 2 ? badBoxes(kind, payload) : payload;
    });
  }

  /**
   * The rogue names its own box key as a peer's in one signer's sign-start (the certificates
   * stay the operator's): if the victim seals its round-1 messages to that key, the rogue opens
   * them (A1: a box sealed to an honest party opened by the adversary).
   */
  private async boxKeySubstitution(): Promise<void> {
    this.counts.add('ecdsa-box-key-substitution');
    const at = this.nextAt();
    const signers = this.quorum(this.wallet);
    const [victim, peer] = signers;
    if (victim === undefined || peer === undefined) return;
    const mine = generateIdentity(this.rng.bytes(64));
    const body = this.body(this.wallet, signers);
    const bodies = new Map(signers.map((p) => [p, body]));
    bodies.set(victim, { ...body, boxKeys: { [peer]: bytesToHex(mine.boxPublic) } });
    for (const [p, b] of bodies) this.rogue.send(p, buildSignStart(at, this.keyed(b)));
    await this.settle();
    const victimKey = this.rogue.hello(victim)?.boxKey;
    const box = this.take(victim, at, 1)[0]?.body['sealed'];
    for (const p of signers) this.take(p, at, 1);
    if (victimKey === undefined || typeof box !== 'object' || box === null) return;
    const sealed = (box as Record<string, unknown>)[peer];
    if (typeof sealed !== 'string') return;
    const opener = createSealer({
      context: `${body.walletId}|${at.sessionId}|${at.attempt}`,
      self: peer,
      boxSecret: mine.boxSecret,
      peerBoxKeys: { [victim]: victimKey },
      randomBytes: (k) => this.rng.bytes(k),
    });
    try {
      opener.open(victim, sealed);
    } catch {
      return;
    }
    this.loot.report.openedShares.push({
      walletId: body.walletId,
      dealer: victim,
      recipient: peer,
      ownRecipient: false,
    });
  }

  /** A transaction for `nonce` paying `to`. */
  private transaction(nonce: bigint, to: string): EvmTransaction {
    const hex = Transaction.prepare({
      to,
      value: BigInt(this.rng.int(1, 9)) * 10n ** 15n,
      nonce,
      chainId: 1n,
      maxFeePerGas: 30n * 10n ** 9n,
    }).toHex({ includeSignature: false });
    return { type: 'eip1559', hex: hex.replace(/^0x/, '') };
  }

  private async nonceConflict(): Promise<void> {
    this.counts.add('ecdsa-nonce-conflict');
    const nonce = BigInt(this.rng.int(100, 100_000));
    const signers = this.quorum(this.wallet);
    for (const to of [allowedDestination, blockedDestination]) {
      const transaction = this.transaction(nonce, to);
      const digest = decodeEvmTransaction(transaction).digest;
      const body = { ...this.body(this.wallet, signers, digest), transaction };
      await this.drive(this.nextAt(), new Map(signers.map((p) => [p, body])));
    }
  }

  private async governedRequests(): Promise<void> {
    const { wallet, governance } = this.governed;
    const kinds = ['policy-deny', 'missing-approvals'] as const;
    const kind = kinds[this.rng.int(0, kinds.length - 1)] ?? 'policy-deny';
    this.counts.add(`ecdsa-governed:${kind}`);
    const block = (amount: string, destination: string): SignPolicyBlock => ({
      tier: governance.tier,
      policyHash: governance.policy.policyHash,
      context: { asset: 'USDC', amount, destination },
      approvals: [],
    });
    const refused =
      kind === 'policy-deny' ? block('10', blockedDestination) : block('5000', allowedDestination);
    for (const policy of [refused, block('10', allowedDestination)]) {
      const signers = this.quorum(wallet);
      const body = { ...this.body(wallet, signers), policy };
      await this.drive(this.nextAt(), new Map(signers.map((p) => [p, body])));
    }
  }

  /**
   * The adversary's last move: from every run's broadcasts, every set of t signers' `{x, u, w}`
   * combined as phase 4 does (s = Σw / Σu, r = x), tried on every digest any signer of the run
   * was given. Each attempt goes to the loot with whether it verifies and whether every
   * contributor was given that digest.
   */
  combineReleases(wallets: readonly TargetWallet[]): void {
    const { loot } = this;
    for (const list of this.broadcasts.values()) {
      const wallet = wallets.find((w) => w.walletId === list[0]?.walletId);
      if (!wallet || list.length < wallet.threshold) continue;
      const set = list.slice(0, wallet.threshold);
      const signature = combined(set);
      if (!signature) continue;
      for (const digest of new Set(set.map((b) => b.digest))) {
        const verified = verifyEcdsa(signature, hexToBytes(digest), hexToBytes(wallet.publicKey));
        loot.report.forgeries.push({
          walletId: wallet.walletId,
          messageHash: sha256Hex(hexToBytes(digest)),
          method: 'ecdsa-combine',
          verified,
          everyContributorAgreed: set.every((b) => b.digest === digest),
        });
      }
    }
  }
}

/** s = Σw / Σu (low-S), r = x: the signature t broadcasts make, or undefined if degenerate. */
function combined(set: readonly { x: string; u: string; w: string }[]): Uint8Array | undefined {
  const Fn = secp256k1.Point.Fn;
  const r = BigInt(`0x${set[0]?.x ?? '0'}`) % n;
  const sumU = set.reduce((a, b) => Fn.add(a, BigInt(`0x${b.u}`) % n), 0n);
  const sumW = set.reduce((a, b) => Fn.add(a, BigInt(`0x${b.w}`) % n), 0n);
  if (r === 0n || sumU === 0n) return undefined;
  let s = Fn.mul(sumW, Fn.inv(sumU));
  if (s > n / 2n) s = n - s;
  if (s === 0n) return undefined;
  const hex = (v: bigint) => v.toString(16).padStart(64, '0');
  return hexToBytes(hex(r) + hex(s));
}

/** Round 4's broadcasts made wrong in one of three ways. */
function badBroadcasts(
  kind: 'u-out-of-range' | 'u-sum-zero' | 'x-not-a-coordinate',
  payload: Payload,
): Payload {
  const all = payload['broadcasts'];
  if (typeof all !== 'object' || all === null) return payload;
  const entries = Object.entries(all as Record<string, Payload>);
  const hex = (v: bigint) => v.toString(16).padStart(64, '0');
  if (kind === 'x-not-a-coordinate') {
    // 2^256 − 1 is above the field prime: no curve point has it as x.
    return { ...payload, x: 'f'.repeat(64) };
  }
  if (kind === 'u-out-of-range') {
    const [first] = entries;
    if (!first) return payload;
    const broadcasts = { ...Object.fromEntries(entries), [first[0]]: { ...first[1], u: hex(n) } };
    return { ...payload, broadcasts };
  }
  // The last u chosen so the u values sum to zero.
  const last = entries.at(-1);
  if (!last) return payload;
  const others = entries.slice(0, -1).reduce((a, [, b]) => a + BigInt(`0x${String(b['u'])}`), 0n);
  const u = hex((((n - (others % n)) % n) + n) % n);
  return {
    ...payload,
    broadcasts: { ...Object.fromEntries(entries), [last[0]]: { ...last[1], u } },
  };
}

/** Round 2's sealed boxes swapped between senders or truncated. */
function badBoxes(kind: 'swapped' | 'truncated', payload: Payload): Payload {
  const sealed = payload['sealed'];
  if (typeof sealed !== 'object' || sealed === null) return payload;
  const entries = Object.entries(sealed as Record<string, string>);
  if (kind === 'truncated')
    return { ...payload, sealed: Object.fromEntries(entries.map(([k, v]) => [k, v.slice(0, 40)])) };
  // Each box under another sender's name (with one peer: its own box under a stranger's name).
  const names = entries.map(([k]) => k);
  const rotated = entries.map(([, v], i) => [names[(i + 1) % names.length] ?? '', v]);
  return {
    ...payload,
    sealed: names.length > 1 ? Object.fromEntries(rotated) : { mallory: entries[0]?.[1] ?? '' },
  };
}
