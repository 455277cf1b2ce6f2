/**
 * The malicious coordinator's key generation: it relays a real DKG between real parties and
 * attacks it. Key substitution puts its own X25519 box key in keygen-start (with no
 * certificate, a forged one, another party's, or one self-signed under its own "operator" key):
 * if any party accepts, every box sealed to that key is opened (loot) and re-sealed to its real
 * recipient, so the DKG would complete with the adversary holding every dealer's evaluations.
 * Equivocation sends one party another round-1 package for a peer (the adversary's own
 * polynomial under that peer's identifier). Confirmation tampering relays altered or partial
 * confirmations. Every box it relays it tries to open.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { issueCertificate, type PartyCertificate } from '../../transport/certificate.ts';
import { generateIdentity, type IdentityKeys } from '../../transport/identity.ts';
import { createSealer } from '../../protocol/sealed-box.ts';
import type { Payload, Scheme } from '../../protocol/engine.ts';
import {
  buildActivatePayload,
  buildKeygenStart,
  buildProtocol,
  keygenActivateRound,
  keygenConfirmRound,
  validateConfirmPayload,
  type Addressing,
  type KeygenConfirmation,
  type KeygenStartBody,
} from '../../transport/wire.ts';
import type { AdversaryKeygen } from '../../checker/adversary-types.ts';
import type { SeededRandom } from '../../core/seeded-random.ts';
import { fakeRound1, type Loot } from './loot.ts';
import type { RogueCoordinator } from './rogue-coordinator.ts';
import type { AttackCounts } from './rogue-signing.ts';
import type { PartyObservations } from './observer.ts';
import type { AdversaryWorld } from './world.ts';

/** How the rogue attacks one key generation. */
export type KeygenAttack =
  | 'honest-dkg'
  | 'key-substitution-no-cert'
  | 'key-substitution-forged-cert'
  | 'key-substitution-other-cert'
  | 'key-substitution-self-signed'
  | 'dkg-equivocation'
  | 'confirmation-tamper';

/** Every keygen attack (honest-dkg is the control). */
export const keygenAttacks: readonly KeygenAttack[] = [
  'honest-dkg',
  'key-substitution-no-cert',
  'key-substitution-forged-cert',
  'key-substitution-other-cert',
  'key-substitution-self-signed',
  'dkg-equivocation',
  'confirmation-tamper',
];

const settleMs = 60;

/** Runs attacked key generations through the rogue coordinator. */
export class RogueKeygen {
  private runs = 0;
  /** The adversary's own box and "operator" keys. */
  private readonly own: IdentityKeys;
  private readonly fakeOperator: IdentityKeys;

  constructor(
    private readonly world: AdversaryWorld,
    private readonly rogue: RogueCoordinator,
    private readonly loot: Loot,
    private readonly counts: AttackCounts,
    private readonly observations: PartyObservations,
    private readonly rng: SeededRandom,
  ) {
    this.own = generateIdentity(rng.bytes(64));
    this.fakeOperator = generateIdentity(rng.bytes(64));
  }

  /** One key generation of `scheme`, t of `parties`, under `attack`. */
  async run(
    attack: KeygenAttack,
    scheme: Scheme,
    threshold: number,
    parties: string[],
  ): Promise<AdversaryKeygen> {
    if (attack !== 'honest-dkg') this.counts.add(attack);
    this.runs += 1;
    const walletId = `w_adv_${this.world.seed}_${this.runs}`;
    const at: Addressing = {
      sessionId: `kg_${this.world.seed}_${this.runs}`,
      attempt: 1,
      token: 1,
    };
    const context = `${walletId}|${at.sessionId}`;
    const body = this.startBody(attack, { walletId, scheme, threshold, parties });
    for (const p of parties) this.rogue.send(p, buildKeygenStart(at.sessionId, body));
    await this.world.run(settleMs);
    const round1 = this.collect(parties, at, 1);
    if (round1.size === parties.length) {
      this.broadcastRound1(attack, at, round1, { walletId, scheme, threshold, parties });
      await this.world.run(settleMs);
      const sealed = this.collect(parties, at, 2);
      if (sealed.size === parties.length) {
        this.relaySealed(body, at, context, sealed);
        await this.world.run(settleMs);
        this.collect(parties, at, 3);
        this.relayConfirmations(attack, at, parties);
        await this.world.run(settleMs);
      }
    }
    return this.outcome(walletId, attack);
  }

  private startBody(
    attack: KeygenAttack,
    base: Omit<KeygenStartBody, 'boxKeys' | 'certificates'>,
  ): KeygenStartBody {
    const real = (p: string) => this.world.party(p).certificate;
    const boxKeys: Record<string, string> = {};
    const certificates: Record<string, PartyCertificate> = {};
    const ownBox = bytesToHex(this.own.boxPublic);
    const substitute = attack.startsWith('key-substitution');
    for (const [i, p] of base.parties.entries()) {
      const cert = real(p);
      boxKeys[p] = substitute ? ownBox : cert.boxKey;
      if (attack === 'key-substitution-forged-cert') certificates[p] = { ...cert, boxKey: ownBox };
      else if (attack === 'key-substitution-other-cert')
        certificates[p] = real(base.parties[(i + 1) % base.parties.length] ?? p);
      else if (attack === 'key-substitution-self-signed')
        certificates[p] = issueCertificate(
          this.fakeOperator.signSecret,
          this.fakeOperator.signPublic,
          { partyId: p, identityKey: cert.identityKey, boxKey: ownBox },
          0,
        );
      else if (attack !== 'key-substitution-no-cert') certificates[p] = cert;
    }
    const withCerts = Object.keys(certificates).length > 0 ? { certificates } : {};
    return { ...base, boxKeys, ...withCerts };
  }

  /** The protocol payloads of `round` from every party (first one each). */
  private collect(parties: string[], at: Addressing, round: number): Map<string, Payload> {
    const got = new Map<string, Payload>();
    for (const p of parties) {
      const taken = this.rogue.take(
        p,
        (e) => e.sessionId === at.sessionId && e.kind === 'protocol' && e.round === round,
      );
      if (taken[0]) got.set(p, taken[0].body);
      if (round === 3) this.confirms.set(p, this.takeConfirm(p, at));
    }
    return got;
  }

  private readonly confirms = new Map<string, KeygenConfirmation | undefined>();

  private takeConfirm(partyId: string, at: Addressing): KeygenConfirmation | undefined {
    const e = this.rogue.take(
      partyId,
      (x) =>
        x.sessionId === at.sessionId && x.kind === 'protocol' && x.round === keygenConfirmRound,
    )[0];
    if (!e) return undefined;
    const confirm = validateConfirmPayload(e.body);
    return confirm.ok ? confirm.value : undefined;
  }

  private broadcastRound1(
    attack: KeygenAttack,
    at: Addressing,
    round1: Map<string, Payload>,
    wallet: { walletId: string; scheme: Scheme; threshold: number; parties: string[] },
  ): void {
    const all = Object.fromEntries(round1);
    const [victim, impersonated] = wallet.parties;
    for (const p of wallet.parties) {
      let view = all;
      if (attack === 'dkg-equivocation' && p === victim && impersonated !== undefined) {
        const rng = (n: number) => this.rng.bytes(n);
        view = { ...all, [impersonated]: fakeRound1(wallet, impersonated, rng) };
      }
      this.rogue.send(p, buildProtocol(at, 2, { round1: view }));
    }
  }

  /**
   * Relays every dealer's boxes to their recipients. Each box is tried with the adversary's
   * box secret first: it opens only if the dealer sealed to the adversary's key, and is then
   * re-sealed to the real recipient (who, in that case, also took the adversary's key for
   * the dealer).
   */
  private relaySealed(
    body: KeygenStartBody,
    at: Addressing,
    context: string,
    sealed: Map<string, Payload>,
  ): void {
    const inbound = new Map<string, Record<string, unknown>>();
    for (const [dealer, payload] of sealed) {
      const boxes = payload['sealed'];
      if (typeof boxes !== 'object' || boxes === null) continue;
      for (const [recipient, box] of Object.entries(boxes)) {
        if (typeof box !== 'string') continue;
        this.counts.add('open-sealed-share');
        const plain = this.tryOpen(context, dealer, recipient, box);
        const relayed = plain ? this.reseal(context, dealer, recipient, plain) : box;
        if (plain) this.loot.opened(body, dealer, recipient, plain, false);
        const forRecipient = inbound.get(recipient) ?? {};
        forRecipient[dealer] = relayed;
        inbound.set(recipient, forRecipient);
      }
    }
    for (const p of body.parties)
      this.rogue.send(p, buildProtocol(at, 3, { sealed: inbound.get(p) ?? {} }));
  }

  private tryOpen(context: string, dealer: string, recipient: string, box: string) {
    const dealerBox = this.world.party(dealer).certificate.boxKey;
    try {
      return createSealer({
        context,
        self: recipient,
        boxSecret: this.own.boxSecret,
        peerBoxKeys: { [dealer]: dealerBox },
        randomBytes: (n) => this.rng.bytes(n),
      }).open(dealer, box);
    } catch {
      return undefined; // sealed to the recipient's real key: unreadable
    }
  }

  private reseal(context: string, dealer: string, recipient: string, plain: Uint8Array): string {
    return createSealer({
      context,
      self: dealer,
      boxSecret: this.own.boxSecret,
      peerBoxKeys: { [recipient]: this.world.party(recipient).certificate.boxKey },
      randomBytes: (n) => this.rng.bytes(n),
    }).seal(recipient, plain);
  }

  private relayConfirmations(attack: KeygenAttack, at: Addressing, parties: string[]): void {
    const all: Record<string, KeygenConfirmation> = {};
    for (const [p, c] of this.confirms) if (c) all[p] = c;
    this.confirms.clear();
    if (Object.keys(all).length === 0) return;
    const [first, second] = parties;
    for (const p of parties) {
      let view = all;
      if (attack === 'confirmation-tamper' && first !== undefined && all[first]) {
        const flipped =
          (all[first].transcript.startsWith('0') ? '1' : '0') + all[first].transcript.slice(1);
        // One party sees a tampered confirmation, another a set without the first party's.
        if (p === second)
          view = Object.fromEntries(Object.entries(all).filter(([k]) => k !== first));
        else view = { ...all, [first]: { ...all[first], transcript: flipped } };
      }
      this.rogue.send(p, buildProtocol(at, keygenActivateRound, buildActivatePayload(view)));
    }
  }

  private outcome(walletId: string, attack: KeygenAttack): AdversaryKeygen {
    const active = this.observations.activations.some((a) => a.walletId === walletId && a.honest);
    const refusals = Object.entries(this.observations.refusals)
      .map(([code, n]) => `${code}×${n}`)
      .join(', ');
    return {
      walletId,
      attacks: attack === 'honest-dkg' ? [] : [attack],
      outcome: active ? 'active' : 'aborted',
      note: active ? '' : `refusals so far: ${refusals}`,
    };
  }
}
