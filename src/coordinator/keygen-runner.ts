/**
 * Drives one distributed key generation: all n parties must take part, through as many rounds
 * as the engine's coordinator role asks for. The coordinator only relays; round-2 shares are
 * sealed to their recipients, so it cannot read them.
 */
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { KeygenResult, ProtocolRole, SignatureEngine } from '../protocol/engine.ts';
import { coordinatorRole } from '../protocol/engine.ts';
import {
  buildDiscard,
  buildKeygenStart,
  buildProtocol,
  validateProtocol,
  validateRefuse,
  type Addressing,
  type Envelope,
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

  constructor(
    private readonly env: Env,
    private readonly registry: PartyRegistry,
    engine: SignatureEngine,
    readonly args: KeygenArgs,
    private readonly onFinished: (runner: KeygenRunner) => void,
  ) {
    this.role = engine.keygenCoordinator({ parties: args.parties, threshold: args.threshold });
    this.result = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  start(): void {
    this.role.start();
    this.cancelTimer = this.env.setTimer(limits.keygenDeadlineMs, () =>
      this.fail('key generation deadline reached', []),
    );
    const { keygenId, ...body } = this.args;
    const start = buildKeygenStart(keygenId, body);
    for (const partyId of body.parties) {
      if (!this.registry.send(partyId, start)) {
        this.fail('party not connected', [partyId]);
        return;
      }
    }
  }

  private get addressing(): Addressing {
    return { sessionId: this.args.keygenId, ...keygenAttempt };
  }

  onEnvelope(partyId: string, e: Envelope): void {
    if (this.done || e.attempt !== keygenAttempt.attempt || e.token !== keygenAttempt.token) return;
    if (e.kind === 'refuse') {
      const refusal = validateRefuse(e.body);
      const why = refusal.ok ? `${refusal.value.code} ${refusal.value.reason}` : refusal.reason;
      this.fail(`party refused: ${why}`.trim(), [partyId]);
      return;
    }
    if (e.kind !== 'protocol') return;
    const payload = validateProtocol(e.body);
    if (!payload.ok) {
      this.fail(`party sent an invalid payload: ${payload.reason}`, [partyId]);
      return;
    }
    const step = this.role.handle({
      from: partyId,
      to: coordinatorRole,
      round: e.round,
      payload: payload.value,
    });
    if (step.kind === 'abort') {
      this.fail(step.abort.reason, step.abort.blamed);
      return;
    }
    for (const out of step.outgoing)
      this.registry.send(out.to, buildProtocol(this.addressing, out.round, out.payload));
    if (step.kind === 'done') {
      this.finish();
      this.settle.resolve(step.result);
    }
  }

  onDisconnect(partyId: string): void {
    if (this.args.parties.includes(partyId))
      this.fail('party disconnected during key generation', [partyId]);
  }

  private fail(reason: string, parties: string[]): void {
    if (this.done) return;
    for (const partyId of this.args.parties)
      this.registry.send(partyId, buildDiscard(this.addressing, reason));
    this.finish();
    this.settle.reject(
      new QuorateError('QUORATE_E_KEYGEN_FAILED', `key generation failed: ${reason}`, { parties }),
    );
  }

  private finish(): void {
    this.done = true;
    this.cancelTimer();
    this.role.wipe();
    this.onFinished(this);
  }
}
