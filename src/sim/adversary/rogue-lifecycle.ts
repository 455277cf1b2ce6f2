/**
 * The malicious coordinator against the key lifecycle (docs/key-lifecycle.md, "Against a hostile
 * coordinator"): real parties holding a wallet's shares, and a rogue that tries to make them
 * erase or promote a share without a real new epoch, or deal their shares to receivers the
 * operator never authorized (its own certified-looking party, whose box key it holds). After
 * each attack every party must still hold its share of the wallet's epoch, active, with nothing
 * staged, and no box a party sealed may open under the rogue's keys.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { AdversaryViolation } from '../../checker/adversary-types.ts';
import type { SeededRandom } from '../../core/seeded-random.ts';
import { KeyShares } from '../../party/key-shares.ts';
import { createSealer } from '../../protocol/sealed-box.ts';
import { issueCertificate } from '../../transport/certificate.ts';
import { generateIdentity, signDetached, type IdentityKeys } from '../../transport/identity.ts';
import {
  buildEpoch,
  buildKeygenStart,
  buildSignStart,
  promotionDomain,
  promotionStatement,
  reshareAuthorization,
  reshareAuthorizationDomain,
  reshareRunId,
  type EpochEvidence,
  type KeygenStartBody,
} from '../../transport/wire.ts';
import type { TargetWallet } from './loot.ts';
import type { RogueCoordinator } from './rogue-coordinator.ts';
import type { AttackCounts } from './rogue-signing.ts';
import type { AdversaryWorld } from './world.ts';

/** How the rogue attacks the lifecycle of one wallet. */
export type LifecycleAttack =
  | 'erase-without-evidence'
  | 'erase-forged-promotions'
  | 'promote-by-request'
  | 'abandon-unknown'
  | 'reshare-unauthorized'
  | 'reshare-forged-authorization'
  | 'reshare-weakened'
  | 'refresh-weakened';

/** Every lifecycle attack. */
export const lifecycleAttacks: readonly LifecycleAttack[] = [
  'erase-without-evidence',
  'erase-forged-promotions',
  'promote-by-request',
  'abandon-unknown',
  'reshare-unauthorized',
  'reshare-forged-authorization',
  'reshare-weakened',
  'refresh-weakened',
];

const settleMs = 80;

/** Runs lifecycle attacks against one wallet's real parties. */
export class RogueLifecycle {
  private runs = 0;
  /** The rogue's own party: its identity and box keys, and a certificate from its own operator. */
  private readonly own: IdentityKeys;
  private readonly fakeOperator: IdentityKeys;
  readonly violations: AdversaryViolation[] = [];

  constructor(
    private readonly world: AdversaryWorld,
    private readonly rogue: RogueCoordinator,
    private readonly counts: AttackCounts,
    private readonly rng: SeededRandom,
    private readonly wallet: TargetWallet,
    private readonly publicPackage: Record<string, unknown>,
  ) {
    this.own = generateIdentity(rng.bytes(64));
    this.fakeOperator = generateIdentity(rng.bytes(64));
  }

  /** One attack, then the judgement of every party's shares. */
  async run(attack: LifecycleAttack): Promise<void> {
    this.counts.add(`lifecycle:${attack}`);
    this.runs += 1;
    const operationId = `o_rogue${this.runs}`;
    if (attack === 'erase-without-evidence') this.commitToAll(operationId, undefined);
    if (attack === 'erase-forged-promotions')
      this.commitToAll(operationId, this.forgedEvidence(operationId));
    if (attack === 'promote-by-request') this.signAtNextEpoch(operationId);
    if (attack === 'abandon-unknown') this.abandonToAll(operationId);
    if (attack === 'reshare-unauthorized') this.reshare(operationId, 'reshare', undefined);
    if (attack === 'reshare-forged-authorization')
      this.reshare(operationId, 'reshare', this.forgedAuthorization(operationId));
    // Among the real, certified parties, but weaker: a lower threshold, or one party fewer.
    if (attack === 'reshare-weakened') this.reshare(operationId, 'reshare', undefined, true);
    if (attack === 'refresh-weakened') this.reshare(operationId, 'refresh', undefined, true);
    await this.world.run(settleMs);
    this.openDealtParts(operationId);
    this.judge(attack);
  }

  private commitToAll(operationId: string, evidence: EpochEvidence | undefined): void {
    const at = { sessionId: `${operationId}.commit`, attempt: 1, token: 1 };
    const body = {
      walletId: this.wallet.walletId,
      operationId,
      epoch: 1,
      action: 'commit' as const,
    };
    for (const p of this.wallet.parties)
      this.rogue.send(p, buildEpoch(at, evidence === undefined ? body : { ...body, evidence }));
  }

  private abandonToAll(operationId: string): void {
    const at = { sessionId: `${operationId}.abandon`, attempt: 1, token: 1 };
    const body = {
      walletId: this.wallet.walletId,
      operationId,
      epoch: 1,
      action: 'abandon' as const,
    };
    for (const p of this.wallet.parties) this.rogue.send(p, buildEpoch(at, body));
  }

  /**
   * Promotions "signed" by parties of a new epoch the rogue made up (its own party, and the
   * real parties' names with keys it made), each with a certificate from its own operator key.
   */
  private forgedEvidence(operationId: string): EpochEvidence {
    const parties = ['x1', 'x2', 'x3'];
    const fields = { threshold: 2, parties, publicKey: this.wallet.publicKey };
    const signatures: Record<string, string> = {};
    const certificates: EpochEvidence['certificates'] = {};
    for (const p of parties) {
      const keys = generateIdentity(this.rng.bytes(64));
      const at = { walletId: this.wallet.walletId, operationId, epoch: 1, partyId: p };
      const statement = promotionStatement({ ...at, ...fields });
      signatures[p] = bytesToHex(signDetached(promotionDomain, statement, keys.signSecret));
      certificates[p] = this.certificate(p, keys);
    }
    return { ...fields, signatures, certificates };
  }

  private certificate(partyId: string, keys: IdentityKeys) {
    const subject = {
      partyId,
      identityKey: bytesToHex(keys.signPublic),
      boxKey: bytesToHex(keys.boxPublic),
    };
    return issueCertificate(this.fakeOperator.signSecret, this.fakeOperator.signPublic, subject, 0);
  }

  /** A sign-start naming epoch 1, which no operation made: nobody may promote or sign. */
  private signAtNextEpoch(operationId: string): void {
    const signers = this.wallet.parties.slice(0, this.wallet.threshold);
    const at = { sessionId: `s_${operationId}`, attempt: 1, token: 1 };
    for (const p of signers)
      this.rogue.send(
        p,
        buildSignStart(at, {
          walletId: this.wallet.walletId,
          intentKey: operationId,
          messageHex: '00'.repeat(32),
          messageHash: '00'.repeat(32),
          signers,
          deadlineMs: this.world.coordinatorNode.env().nowMs() + 10_000,
          remainingMs: 10_000,
          epoch: 1,
        }),
      );
  }

  /** The authorization the rogue can make: signed by its own "operator" key. */
  private forgedAuthorization(operationId: string): string {
    const statement = reshareAuthorization({
      walletId: this.wallet.walletId,
      fromEpoch: 0,
      threshold: this.wallet.threshold,
      parties: this.receivers(),
    });
    void operationId;
    return bytesToHex(
      signDetached(reshareAuthorizationDomain, statement, this.fakeOperator.signSecret),
    );
  }

  /** The wallet's parties with the last one replaced by the rogue's own party `x1`. */
  private receivers(): string[] {
    return [...this.wallet.parties.slice(0, -1), 'x1'];
  }

  /**
   * A reshare (or a "refresh") to receivers that include the rogue's party, whose box key and
   * certificate are the rogue's: a dealer that dealt would seal a part the rogue can open. Or,
   * `weakened`, among the wallet's own parties but weaker (t−1 of them all, or 2 of 2 for a
   * 2-of-3: noble's FROST needs t ≥ 2).
   */
  private reshare(
    operationId: string,
    kind: 'refresh' | 'reshare',
    authorization: string | undefined,
    weakened = false,
  ): void {
    const { walletId, scheme, threshold, parties } = this.wallet;
    const lowered = Math.max(2, threshold - 1);
    const newThreshold = weakened ? lowered : undefined;
    const receivers = !weakened
      ? this.receivers()
      : lowered < threshold
        ? [...parties]
        : parties.slice(0, lowered);
    const dealers = parties.slice(0, threshold);
    const everyone = [...new Set([...dealers, ...receivers])];
    const boxKeys: Record<string, string> = {};
    const certificates: NonNullable<KeygenStartBody['certificates']> = {};
    for (const p of everyone) {
      if (p === 'x1') {
        boxKeys[p] = bytesToHex(this.own.boxPublic);
        certificates[p] = this.certificate(p, this.own);
        continue;
      }
      const hello = this.rogue.hello(p);
      const party = this.world.party(p);
      boxKeys[p] = bytesToHex(party.identity.boxPublic);
      certificates[p] = hello?.certificate ?? party.certificate;
    }
    const body: KeygenStartBody = {
      walletId,
      scheme,
      threshold: newThreshold ?? threshold,
      parties: receivers,
      boxKeys,
      certificates,
      reshare: {
        operationId,
        kind,
        fromEpoch: 0,
        dealers,
        oldThreshold: threshold,
        oldPublicPackage: this.publicPackage,
        ...(authorization === undefined ? {} : { authorization }),
      },
    };
    const start = buildKeygenStart(reshareRunId(operationId, 1), body);
    for (const p of dealers) this.rogue.send(p, start);
  }

  /** Every box a dealer sealed in this run, opened with the rogue's key as `x1`: none may open. */
  private openDealtParts(operationId: string): void {
    const runId = reshareRunId(operationId, 1);
    for (const dealer of this.wallet.parties) {
      const sent = this.rogue.take(dealer, (e) => e.sessionId === runId && e.kind === 'protocol');
      for (const e of sent) {
        // Every reshare this rogue asks for is unauthorized: dealing at all is the failure,
        // whoever the parts are sealed to.
        if (e.round === 1 && e.body['commitment'] !== undefined)
          this.violations.push({
            invariant: 'A2',
            message: 'a dealer dealt for a reshare the operator did not authorize',
            detail: { dealer, operationId },
          });
        const sealed = e.body['sealed'];
        const box =
          typeof sealed === 'object' && sealed !== null
            ? (sealed as Record<string, unknown>)['x1']
            : undefined;
        if (typeof box !== 'string') continue;
        const opener = createSealer({
          context: `${this.wallet.walletId}|${runId}`,
          self: 'x1',
          boxSecret: this.own.boxSecret,
          peerBoxKeys: { [dealer]: bytesToHex(this.world.party(dealer).identity.boxPublic) },
          randomBytes: (n) => this.rng.bytes(n),
        });
        try {
          opener.open(dealer, box);
          this.violations.push({
            invariant: 'A1',
            message:
              'a dealer dealt a part of its share to a receiver the operator never authorized',
            detail: { dealer, operationId },
          });
        } catch {
          // Sealed to another key: nothing learnt.
        }
      }
    }
  }

  /** Every party still holds its epoch-0 share, active, and nothing staged. */
  private judge(attack: LifecycleAttack): void {
    for (const p of this.wallet.parties) {
      const party = this.world.party(p);
      const shares = new KeyShares(party.journal, party.sealer);
      const held = shares.has(this.wallet.walletId) ? shares.get(this.wallet.walletId) : undefined;
      const staged = shares.staged(this.wallet.walletId);
      if (held === undefined || (held.epoch ?? 0) !== 0 || staged !== undefined)
        this.violations.push({
          invariant: 'I7',
          message: 'a party erased, promoted or staged a share on the rogue coordinator alone',
          detail: { attack, partyId: p, epoch: held?.epoch ?? null, staged: staged !== undefined },
        });
    }
  }
}
