/**
 * A malicious ecdsa signer: the real DKLs23 party engine, wrapped so that it cheats in one of
 * the ways a signer can (parties-ecdsa-run.ts). The attack is read when a signing starts.
 *
 * - `ecdsa-bad-u`: its round-3 broadcast carries `u` = the group order (no scalar). The
 *   coordinator checks broadcasts where the sender's signed envelope is the evidence, so it
 *   must blame the sender: listed in `cheated`.
 * - `ecdsa-bad-w`: its `w` is a valid scalar, one more than the engine's. Nothing names the
 *   cheater by the values alone: every signer's phase 4 finds the signature invalid.
 * - `ecdsa-bad-box`: its round-1 message to the victim is altered before it is sealed (a
 *   correct box around wrong content, so only the victim can see it).
 * - `ecdsa-silent-after-round1`: it stops answering after its first round (counted as the FROST
 *   seeds' `silent-after-round1`).
 * - `ecdsa-replay`: its link sends old envelopes again (the FROST seeds' replay tap).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type {
  PartyEngine,
  PartySignerRole,
  ProtocolStep,
  ShareSealer,
  SignerResult,
} from '../../protocol/engine.ts';
import { silentAfterRound1, type AttackPlan } from './rogue-parties.ts';
import type { AttackCounts } from './rogue-signing.ts';

/** The signing attacks of a malicious ecdsa signer. */
export const ecdsaPartyAttacks = [
  'ecdsa-bad-u',
  'ecdsa-bad-w',
  'ecdsa-bad-box',
  'ecdsa-silent-after-round1',
  'ecdsa-replay',
] as const;
export type EcdsaPartyAttack = (typeof ecdsaPartyAttacks)[number];

const n = secp256k1.Point.Fn.ORDER;
const hex64 = (v: bigint): string => v.toString(16).padStart(64, '0');
/** Sessions a run can hold cheats for (a run signs a handful). */
const cheatsMax = 256;

/** Wraps `base` with the current attack; verifiable cheats go to `plan.cheated`. */
export function maliciousEcdsaEngine(
  base: PartyEngine,
  current: { attack: EcdsaPartyAttack | undefined },
  plan: AttackPlan,
  victim: string,
  counts: AttackCounts,
): PartyEngine {
  return {
    scheme: base.scheme,
    keygenParticipant: (args) => base.keygenParticipant(args),
    signer(args) {
      const attack = current.attack;
      if (attack === 'ecdsa-bad-box') {
        const sealer: ShareSealer = {
          seal(to, plaintext) {
            if (to !== victim || plaintext[0] !== 1) return args.sealer.seal(to, plaintext);
            counts.add(attack);
            const bad = Uint8Array.from(plaintext);
            bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
            return args.sealer.seal(to, bad);
          },
          open: (from, sealed) => args.sealer.open(from, sealed),
        };
        return base.signer({ ...args, sealer });
      }
      const role = base.signer(args);
      if (attack === 'ecdsa-bad-u' || attack === 'ecdsa-bad-w') {
        // The run id is `walletId|sessionId|attempt|token` (src/party/signing.ts).
        const sessionId = (args.runId ?? '').split('|')[1] ?? '';
        const cheat = `${sessionId}|${args.key.partyId}`;
        return broadcastCheat(role, attack, counts, () => {
          if (attack === 'ecdsa-bad-u' && plan.cheated.size < cheatsMax) plan.cheated.add(cheat);
        });
      }
      if (attack === 'ecdsa-silent-after-round1')
        return { ...silentAfterRound1(role, counts), oneTimeSecret: () => role.oneTimeSecret() };
      return role;
    },
  };
}

/** The role with its round-3 broadcast changed (`u` out of range, or `w` one more). */
function broadcastCheat(
  role: PartySignerRole,
  attack: 'ecdsa-bad-u' | 'ecdsa-bad-w',
  counts: AttackCounts,
  cheated: () => void,
): PartySignerRole {
  const change = (step: ProtocolStep<SignerResult>): ProtocolStep<SignerResult> => {
    if (step.kind === 'abort') return step;
    return {
      ...step,
      outgoing: step.outgoing.map((m) => {
        const { u, w } = m.payload;
        if (m.round !== 3 || typeof u !== 'string' || typeof w !== 'string') return m;
        counts.add(attack);
        cheated();
        return attack === 'ecdsa-bad-u'
          ? { ...m, payload: { ...m.payload, u: hex64(n) } }
          : { ...m, payload: { ...m.payload, w: hex64((BigInt(`0x${w}`) + 1n) % n) } };
      }),
    };
  };
  return {
    start: () => role.start(),
    handle: async (message) => change(await role.handle(message)),
    wipe: () => role.wipe(),
    oneTimeSecret: () => role.oneTimeSecret(),
  };
}
