/**
 * Invariant I2 for every engine: a one-time secret (a nonce) is recorded as issued in the
 * journal before the first message derived from it leaves the party, and consumed durably
 * before the step that spends it runs. The engine names the secret and its spending round
 * (`OneTimeSecret`); this ledger keeps the order for one role and asserts it, because the
 * curve library accepts a restored copy of a used nonce and this order is the only guard.
 */
import { limits } from '../core/limits.ts';
import { assert } from '../core/assert.ts';
import type { OneTimeSecret, ProtocolMessage } from '../protocol/engine.ts';
import type { PartyJournal } from './journal.ts';

/** Where a role's secrets are filed: its session, attempt and fencing token. */
export interface SecretScope {
  sessionId: string;
  attempt: number;
  token: number;
}

/** The journal order of one role's one-time secrets. */
export class SecretLedger {
  /** What this process did with each secret id of the role. */
  private readonly states = new Map<string, 'issued' | 'consumed'>();

  constructor(
    private readonly journal: PartyJournal,
    private readonly scope: SecretScope,
    private readonly nowMs: () => number,
  ) {}

  /**
   * Records the secret the role holds now as issued, once, before anything derived from it
   * leaves. False if the journal refuses (the id was recorded before: never reuse it).
   */
  recordHeld(secret: OneTimeSecret | undefined): boolean {
    if (secret === undefined || this.states.has(secret.id)) return true;
    assert(this.states.size < limits.secretsPerRoleMax, 'a role holds a bounded number of secrets');
    const { sessionId, attempt, token } = this.scope;
    const recorded = this.journal.recordNonce({
      commitment: secret.id,
      sessionId,
      attempt,
      token,
      issuedMs: this.nowMs(),
    });
    if (recorded) this.states.set(secret.id, 'issued');
    return recorded;
  }

  /** Asserts that what the role holds is on record: call right before its messages leave. */
  assertReleasable(secret: OneTimeSecret | undefined): void {
    assert(
      secret === undefined || this.states.has(secret.id),
      'I2: a one-time secret is recorded before anything derived from it leaves',
    );
  }

  /** True if handing `message` to the role spends `secret`. */
  spends(secret: OneTimeSecret | undefined, message: ProtocolMessage): secret is OneTimeSecret {
    return secret !== undefined && message.round === secret.spentAtRound;
  }

  /**
   * Consumes `secret` durably before the step that spends it. False if the journal refuses (it
   * was used, discarded, or voided by a restart): the role must be wiped, never stepped.
   */
  consume(secret: OneTimeSecret): boolean {
    assert(this.states.has(secret.id), 'I2: only a recorded secret is spent');
    const consumed = this.journal.consumeNonce(secret.id, this.nowMs());
    if (consumed) this.states.set(secret.id, 'consumed');
    return consumed;
  }

  /**
   * Asserts every secret the role recorded was consumed: call when the role finishes, before its
   * last messages leave. A secret still issued then was used by a step the engine did not name
   * as its spending step, so its use was never on record.
   */
  assertAllSpent(): void {
    for (const state of this.states.values())
      assert(state === 'consumed', 'I2: a finished role consumed every one-time secret it held');
  }

  /** Asserts `secret` was consumed: call right before the spending step runs. */
  assertConsumed(secret: OneTimeSecret): void {
    assert(
      this.states.get(secret.id) === 'consumed',
      'I2: a one-time secret is consumed durably before the step that spends it',
    );
  }
}
