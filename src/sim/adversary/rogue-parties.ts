/**
 * Malicious parties: real party runtimes whose engine and link the adversary controls. The
 * engine wrapper sends bad DKG shares (a corrupted evaluation sealed to one honest party), bad
 * commitments and bad signature shares, or goes silent after round 1; it also hands the
 * adversary every DKG share its parties open (they are its own to read). The link tap drops
 * the key-generation confirmation (silent before activation), replaces it with a wrong one
 * signed by the party's own identity key, and replays old envelopes byte for byte. Both read the
 * attack from an {@link AttackPlan} when they act, so one run can attack its key generation and
 * then its signing (or play along honestly, looting what it may read).
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type {
  PartyEngine,
  PartyRole,
  PartySignerRole,
  ProtocolStep,
  ShareSealer,
} from '../../protocol/engine.ts';
import { signDetached, type IdentityKeys } from '../../transport/identity.ts';
import { sealEnvelope } from '../../transport/envelope.ts';
import type { Link } from '../../transport/link.ts';
import {
  buildConfirmPayload,
  buildEnvelopeFrame,
  confirmationStatement,
  keygenConfirmDomain,
  keygenConfirmRound,
  validateConfirmPayload,
  validateFrame,
  validateKeygenStart,
  type Envelope,
} from '../../transport/wire.ts';
import type { Loot } from './loot.ts';
import type { AttackCounts } from './rogue-signing.ts';

/** What a malicious party does. */
export type PartyAttack =
  | 'bad-dkg-share'
  | 'silent-after-round1'
  | 'silent-before-activation'
  | 'wrong-confirmation'
  | 'bad-signature-share'
  | 'bad-commitment'
  | 'replay-old-envelope'
  | 'reshare-bad-constant'
  | 'reshare-bad-part'
  | 'reshare-silent';

/** Attacks on key generation (a DKG runs) and on signing. */
export const partyKeygenAttacks: readonly PartyAttack[] = [
  'bad-dkg-share',
  'silent-after-round1',
  'silent-before-activation',
  'wrong-confirmation',
];
export const partySigningAttacks: readonly PartyAttack[] = [
  'bad-signature-share',
  'bad-commitment',
  'replay-old-envelope',
];
/**
 * Attacks on a refresh (parties-lifecycle.ts), all on a malicious dealer's deal (round 1 of a
 * reshare run, the message with its commitment): a constant term other than λ·Y (the next
 * coefficient's commitment in its place), one honest receiver's sealed part spoiled, silence.
 */
export const partyLifecycleAttacks: readonly PartyAttack[] = [
  'reshare-bad-constant',
  'reshare-bad-part',
  'reshare-silent',
];

/** The malicious parties' current attack, read each time they act (undefined: play honestly). */
export interface AttackPlan {
  attack: PartyAttack | undefined;
  /**
   * `${sessionId}|${partyId}` of every signing session a malicious party sent a corrupted
   * signature share in: the coordinator must blame and exclude it (check-outcomes.ts). A
   * corrupted commitment is not listed: the coordinator does not attribute one today (the
   * malicious party's own refusal blames the coordinator), so only its effects are checked.
   */
  readonly cheated: Set<string>;
}

/** Sessions a run can hold cheats for (a run signs a handful). */
const cheatsMax = 256;

/** Flips the last hex digit: still hex of the same length, another value. */
const corruptHex = (hex: string): string => hex.slice(0, -1) + (hex.endsWith('0') ? '1' : '0');

/** Wraps an honest engine with the plan's attack; opened DKG shares go to the loot. */
export function maliciousEngine(
  base: PartyEngine,
  plan: AttackPlan,
  victim: string,
  loot: Loot,
  counts: AttackCounts,
): PartyEngine {
  return {
    scheme: base.scheme,
    keygenParticipant(args) {
      const attack = plan.attack;
      const wallet = { walletId: args.walletId, scheme: base.scheme };
      const sealer: ShareSealer = {
        seal(to, plaintext) {
          if (attack !== 'bad-dkg-share' || to !== victim) return args.sealer.seal(to, plaintext);
          counts.add(attack);
          const bad = Uint8Array.from(plaintext);
          bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
          return args.sealer.seal(to, bad);
        },
        open(from, sealed) {
          const plain = args.sealer.open(from, sealed);
          loot.opened(wallet, from, args.partyId, plain, true);
          return plain;
        },
      };
      const role = base.keygenParticipant({ ...args, sealer });
      if (attack !== 'silent-after-round1') return role;
      return silentAfterRound1(role, counts);
    },
    signer(args) {
      const attack = plan.attack;
      const role = base.signer(args);
      if (attack === 'bad-signature-share' || attack === 'bad-commitment')
        return corruptSigner(role, attack, counts);
      return role;
    },
  };
}

/** The role, silent from round 2 on (its state wiped): counted as `silent-after-round1`. */
export function silentAfterRound1<R>(role: PartyRole<R>, counts: AttackCounts): PartyRole<R> {
  return {
    start: () => role.start(),
    handle(message) {
      if (message.round !== 2) return role.handle(message);
      counts.add('silent-after-round1');
      role.wipe();
      const silent: ProtocolStep<R> = { kind: 'continue', outgoing: [] };
      return silent;
    },
    wipe: () => role.wipe(),
  };
}

function corruptSigner(
  role: PartySignerRole,
  attack: 'bad-signature-share' | 'bad-commitment',
  counts: AttackCounts,
): PartySignerRole {
  const corrupt = async (step: ReturnType<PartySignerRole['start']>, key: string) => {
    const out = await step;
    counts.add(attack);
    return {
      ...out,
      outgoing: out.outgoing.map((m) => {
        const value = m.payload[key];
        return typeof value === 'string'
          ? { ...m, payload: { ...m.payload, [key]: corruptHex(value) } }
          : m;
      }),
    };
  };
  return {
    start: () => (attack === 'bad-commitment' ? corrupt(role.start(), 'binding') : role.start()),
    handle: (message) =>
      attack === 'bad-signature-share'
        ? corrupt(role.handle(message), 'share')
        : role.handle(message),
    wipe: () => role.wipe(),
    oneTimeSecret: () => role.oneTimeSecret(),
    // Forwarded, or the party would refuse every hedged sign-start (it fails closed on a role
    // that cannot name its final signer set) and these attacks would never run.
    ...(role.finalSigners === undefined
      ? {}
      : { finalSigners: (message) => role.finalSigners?.(message) }),
  };
}

/** A link tap for a malicious party: confirmation attacks and replays. */
export function maliciousLink(
  link: Link,
  plan: AttackPlan,
  identity: IdentityKeys,
  counts: AttackCounts,
): Link {
  const sent: Envelope[] = [];
  /** Keygen id → wallet id, from the keygen-starts this party received. */
  const wallets = new Map<string, string>();
  const tap: Link = {
    get isOpen() {
      return link.isOpen;
    },
    send(frame) {
      const attack = plan.attack;
      const checked = validateFrame(frame);
      const e = checked.ok && checked.value.t === 'env' ? checked.value.e : undefined;
      if (e !== undefined && isDeal(e) && attack?.startsWith('reshare-') === true) {
        counts.add(attack);
        const spoiled = spoilDeal(e, attack, identity);
        if (spoiled !== undefined) link.send(buildEnvelopeFrame(spoiled));
        return;
      }
      if (e?.kind === 'protocol' && e.round === keygenConfirmRound) {
        if (attack === 'silent-before-activation') {
          counts.add(attack);
          return;
        }
        if (attack === 'wrong-confirmation') {
          counts.add(attack);
          const walletId = wallets.get(e.sessionId) ?? '';
          link.send(buildEnvelopeFrame(wrongConfirmation(e, walletId, identity)));
          return;
        }
      }
      link.send(frame);
      if (!e) return;
      const spoiled = attack === 'bad-signature-share' && e.kind === 'protocol' && e.round === 2;
      if (spoiled && plan.cheated.size < cheatsMax) plan.cheated.add(`${e.sessionId}|${e.from}`);
      if (attack === 'replay-old-envelope' && e.kind === 'protocol')
        for (const old of sent.slice(-2)) {
          counts.add(attack);
          link.send(buildEnvelopeFrame(old));
        }
      sent.push(e);
      if (sent.length > 8) sent.shift();
    },
    close: (reason) => link.close(reason),
    onFrame: (handler) =>
      link.onFrame((frame) => {
        const start = keygenStartOf(frame);
        if (start && wallets.size < keygensRememberedMax)
          wallets.set(start.sessionId, start.walletId);
        handler(frame);
      }),
    onClose: (handler) => link.onClose(handler),
  };
  return tap;
}

/** Key generations a malicious link remembers the wallet of (a run starts a few). */
const keygensRememberedMax = 64;

/** The keygen id and wallet id of a keygen-start frame, if `frame` is one. */
function keygenStartOf(frame: unknown): { sessionId: string; walletId: string } | undefined {
  const checked = validateFrame(frame);
  if (!checked.ok || checked.value.t !== 'env' || checked.value.e.kind !== 'keygen-start')
    return undefined;
  const body = validateKeygenStart(checked.value.e.body);
  return body.ok
    ? { sessionId: checked.value.e.sessionId, walletId: body.value.walletId }
    : undefined;
}

/** The same envelope with a confirmation of another transcript, properly signed. */
/** A reshare dealer's round-1 message: its commitment and its sealed parts. */
function isDeal(e: Envelope): boolean {
  return e.kind === 'protocol' && e.round === 1 && Array.isArray(e.body['commitment']);
}

/**
 * The deal as the attack spoils it, signed again by the party (undefined: not sent). The wrong
 * constant term is the next coefficient's commitment, a valid point; the spoiled part is one
 * receiver's box with a byte flipped, which fails authentication at that receiver.
 */
function spoilDeal(e: Envelope, attack: string, identity: IdentityKeys): Envelope | undefined {
  if (attack === 'reshare-silent') return undefined;
  const { sig: _sig, ...unsigned } = e;
  const commitment = e.body['commitment'] as unknown[];
  const sealedRaw = e.body['sealed'];
  const sealed =
    typeof sealedRaw === 'object' && sealedRaw !== null
      ? { ...(sealedRaw as Record<string, unknown>) }
      : {};
  if (attack === 'reshare-bad-constant' && commitment.length > 1) {
    const body = { ...e.body, commitment: [commitment[1], ...commitment.slice(1)] };
    return sealEnvelope({ ...unsigned, body }, identity.signSecret);
  }
  const [receiver, box] = Object.entries(sealed)[0] ?? [];
  if (receiver !== undefined && typeof box === 'string') {
    const flipped = (box.startsWith('A') ? 'B' : 'A') + box.slice(1);
    const body = { ...e.body, sealed: { ...sealed, [receiver]: flipped } };
    return sealEnvelope({ ...unsigned, body }, identity.signSecret);
  }
  return e;
}

function wrongConfirmation(e: Envelope, walletId: string, identity: IdentityKeys): Envelope {
  const confirm = validateConfirmPayload(e.body);
  if (!confirm.ok) return e;
  const transcript = bytesToHex(
    hexToBytes(confirm.value.transcript).map((b, i) => (i === 0 ? b ^ 1 : b)),
  );
  const keygenId = e.sessionId;
  const signature = bytesToHex(
    signDetached(
      keygenConfirmDomain,
      confirmationStatement({ walletId, keygenId, partyId: e.from, transcript }),
      identity.signSecret,
    ),
  );
  const { sig: _sig, ...unsigned } = e;
  const body = buildConfirmPayload({ ...confirm.value, transcript, signature });
  return sealEnvelope({ ...unsigned, body }, identity.signSecret);
}
