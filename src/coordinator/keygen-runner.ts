/**
 * Drives one distributed key generation: all n parties must take part, through as many rounds
 * as the engine's coordinator role asks for, then the transcript confirmation (A3): every party
 * signs the transcript of the public result, the coordinator relays all n confirmations, and the
 * wallet exists only once every party has checked them and stored its share. The coordinator
 * only relays; shares are sealed to their recipients' certified box keys, so it cannot read them.
 */
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { KeygenResult, Payload, ProtocolRole, SignatureEngine } from '../protocol/engine.ts';
import { coordinatorRole } from '../protocol/engine.ts';
import { frostSchemeOf } from '../protocol/frost.ts';
import { reshareCoordinator } from '../protocol/reshare.ts';
import type { PartyCertificate } from '../transport/certificate.ts';
import {
  buildActivatePayload,
  buildDiscard,
  buildKeygenStart,
  buildProtocol,
  confirmationVerifies,
  keygenActivateRound,
  keygenConfirmRound,
  keygenParticipants,
  keygenTranscript,
  validateActivatedPayload,
  validateConfirmPayload,
  validateProtocol,
  refusalText,
  type Addressing,
  type Envelope,
  type KeygenConfirmation,
  type KeygenStartBody,
} from '../transport/wire.ts';
import type { PartyRegistry } from './party-registry.ts';

/** A keygen is one attempt with token 1: it is never retried under the same id. */
const keygenAttempt = { attempt: 1, token: 1 } as const;

/** Inputs of a keygen: what keygen-start tells the parties, under the keygen's own id. */
export type KeygenArgs = KeygenStartBody & { keygenId: string };

/** One DKG run. `result` settles exactly once. */
export class KeygenRunner {
  readonly result: Promise<KeygenResult>;
  private role: ProtocolRole<KeygenResult>;
  private settle!: { resolve: (r: KeygenResult) => void; reject: (e: QuorateError) => void };
  private done = false;
  private cancelTimer: () => void = () => {};
  /** The engine's result, held until every party has confirmed and activated. */
  private engineResult: KeygenResult | undefined;
  private readonly confirmations = new Map<string, KeygenConfirmation>();
  private readonly activated = new Set<string>();
  private relayed = false;
  private expectedTranscript: string | undefined;
  /** The participants' operator certificates, as relayed in keygen-start (if every one had one). */
  private certificates: Record<string, PartyCertificate> | undefined;
  /** Everyone who takes part and confirms: the parties, and a reshare's dealers. */
  readonly participants: string[];

  constructor(
    private readonly env: Env,
    private readonly registry: PartyRegistry,
    engine: SignatureEngine,
    readonly args: KeygenArgs,
    private readonly onFinished: (runner: KeygenRunner) => void,
    private readonly deadlineMs?: number,
  ) {
    this.participants = keygenParticipants(args);
    this.role =
      args.reshare === undefined
        ? engine.keygenCoordinator({
            parties: args.parties,
            threshold: args.threshold,
            walletId: args.walletId,
          })
        : reshareCoordinator({
            scheme: frostSchemeOf(args.scheme),
            walletId: args.walletId,
            dealers: args.reshare.dealers,
            receivers: args.parties,
            threshold: args.threshold,
            oldPublicPackage: args.reshare.oldPublicPackage,
          });
    this.result = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  start(): void {
    this.role.start();
    const deadlineMs =
      this.deadlineMs ??
      (this.args.scheme === 'ecdsa' ? limits.ecdsaKeygenDeadlineMs : limits.keygenDeadlineMs);
    this.cancelTimer = this.env.setTimer(deadlineMs, () =>
      this.fail('key generation deadline reached', []),
    );
    const { keygenId, ...body } = this.args;
    const certificates = this.registry.certificatesOf(this.participants);
    // Relayed only when every participant has one: a party that pins an operator key refuses a
    // keygen with any participant uncertified, and one that pins none ignores them.
    if (this.participants.every((p) => certificates[p] !== undefined))
      this.certificates = certificates;
    const start = buildKeygenStart(keygenId, {
      ...body,
      ...(this.certificates === undefined ? {} : { certificates: this.certificates }),
    });
    for (const partyId of this.participants) {
      if (!this.registry.send(partyId, start)) {
        this.fail('party not connected', [partyId], []);
        return;
      }
    }
  }

  private get addressing(): Addressing {
    return { sessionId: this.args.keygenId, ...keygenAttempt };
  }

  onEnvelope(partyId: string, e: Envelope): void {
    if (this.done || e.attempt !== keygenAttempt.attempt || e.token !== keygenAttempt.token) return;
    // Only participants take part: another enrolled party cannot abort or confirm this run.
    if (!this.participants.includes(partyId)) return;
    if (e.kind === 'refuse') {
      // A refusal names the refuser, not a cheater: it may be refusing what another party (or
      // a relay) did to it, which this coordinator cannot check (a sealed part, say).
      this.fail(`party refused: ${refusalText(e.body)}`.trim(), [partyId], []);
      return;
    }
    if (e.kind !== 'protocol') return;
    const payload = validateProtocol(e.body);
    if (!payload.ok) {
      this.fail(`party sent an invalid payload: ${payload.reason}`, [partyId]);
      return;
    }
    if (e.round === keygenConfirmRound) this.onConfirm(partyId, payload.value);
    else if (e.round === keygenActivateRound) this.onActivated(partyId, payload.value);
    else this.onEngineMessage(partyId, e.round, payload.value);
  }

  private onEngineMessage(partyId: string, round: number, payload: Payload): void {
    const step = this.role.handle({
      from: partyId,
      to: coordinatorRole,
      round,
      payload,
    });
    if (step.kind === 'abort') {
      this.fail(step.abort.reason, step.abort.blamed);
      return;
    }
    for (const out of step.outgoing)
      this.registry.send(out.to, buildProtocol(this.addressing, out.round, out.payload));
    if (step.kind === 'done') {
      this.engineResult = step.result;
      this.relayConfirmations();
    }
  }

  /** A party's signed transcript: kept (the first one counts) until all n are in. */
  private onConfirm(partyId: string, payload: Payload): void {
    const confirm = validateConfirmPayload(payload);
    if (!confirm.ok) {
      this.fail(`party sent an invalid confirmation: ${confirm.reason}`, [partyId]);
      return;
    }
    const identityKey = this.certificates?.[partyId]?.identityKey;
    const { walletId, keygenId } = this.args;
    if (
      identityKey !== undefined &&
      !confirmationVerifies({ walletId, keygenId, partyId }, confirm.value, identityKey)
    ) {
      this.fail('confirmation not signed by the certified identity key', [partyId]);
      return;
    }
    if (!this.confirmations.has(partyId)) this.confirmations.set(partyId, confirm.value);
    this.relayConfirmations();
  }

  /**
   * Once the engine finished and every party confirmed: a party whose transcript differs from
   * the result this coordinator relayed is blamed (it saw or claims another run); otherwise every
   * confirmation goes to every party, which activates its share only if all agree.
   */
  private relayConfirmations(): void {
    const result = this.engineResult;
    if (!result || this.confirmations.size < this.participants.length || this.relayed) return;
    const { walletId, keygenId, scheme, threshold, parties, boxKeys, tier, reshare } = this.args;
    const expected = keygenTranscript({
      ...{ walletId, keygenId, scheme, threshold, parties, boxKeys, tier, reshare },
      ...result,
    });
    this.expectedTranscript = expected;
    const disagree = this.participants.filter(
      (p) => this.confirmations.get(p)?.transcript !== expected,
    );
    if (disagree.length > 0) {
      this.fail('parties confirmed a different key generation transcript', disagree);
      return;
    }
    this.relayed = true;
    const payload = buildActivatePayload(Object.fromEntries(this.confirmations));
    for (const partyId of this.participants)
      this.registry.send(partyId, buildProtocol(this.addressing, keygenActivateRound, payload));
  }

  /** A party stored its share: the wallet exists once every party has. */
  private onActivated(partyId: string, payload: Payload): void {
    const activated = validateActivatedPayload(payload);
    if (!activated.ok || activated.value !== this.expectedTranscript || !this.relayed) {
      this.fail('party acknowledged another transcript', [partyId]);
      return;
    }
    this.activated.add(partyId);
    const result = this.engineResult;
    if (result && this.activated.size === this.participants.length) {
      this.finish();
      this.settle.resolve(result);
    }
  }

  onDisconnect(partyId: string): void {
    if (this.participants.includes(partyId))
      this.fail('party disconnected during key generation', [partyId], []);
  }

  /**
   * Fails the run. `parties` are those the failure involves (`detail.parties`, as before);
   * `blamed` those it proves at fault: what they signed is malformed, contradicts the run or
   * fails a check the coordinator makes itself. A refusal, a lost connection or silence blames
   * nobody.
   */
  private fail(reason: string, parties: string[], blamed: string[] = parties): void {
    if (this.done) return;
    for (const partyId of this.participants)
      this.registry.send(partyId, buildDiscard(this.addressing, reason));
    this.finish();
    this.settle.reject(
      new QuorateError('QUORATE_E_KEYGEN_FAILED', `key generation failed: ${reason}`, {
        parties,
        blamed,
      }),
    );
  }

  private finish(): void {
    this.done = true;
    this.cancelTimer();
    this.role.wipe();
    this.onFinished(this);
  }
}
