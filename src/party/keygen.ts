/**
 * Key generation on the party: what a keygen-start must satisfy (this party takes part, holds
 * no share of the wallet yet, knows the wallet's policy tier), the participant role with the
 * sealer its round-2 shares are boxed with, and storing the finished share sealed.
 */
import type { Env, Log } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';
import type { KeyShare, PartyEngine, Scheme } from '../protocol/engine.ts';
import { createSealer } from '../protocol/sealed-box.ts';
import type { IdentityKeys } from '../transport/identity.ts';
import type { Envelope, KeygenStartBody } from '../transport/wire.ts';
import type { SessionSpec } from './driver.ts';
import type { KeyShares } from './key-shares.ts';
import { Refusal } from './refusal.ts';

/** What key generation needs from the party. */
export interface KeygenDeps {
  partyId: string;
  env: Env;
  log: Log;
  identity: IdentityKeys;
  policy: LoadedPolicy | undefined;
  engines: Record<Scheme, PartyEngine>;
  shares: KeyShares;
  /** Sessions this party holds now (bounded by partySessionsActiveMax). */
  sessionsActive(): number;
  /** Drops a session (its secrets wiped). */
  drop(sessionId: string, reason: string): void;
}

/** Admits a keygen-start (throws a Refusal if it must not run) and returns its session. */
export function openKeygen(
  deps: KeygenDeps,
  e: Envelope,
  body: KeygenStartBody,
  via: object | undefined,
): SessionSpec<KeyShare> {
  const { env, partyId, identity } = deps;
  if (!body.parties.includes(partyId))
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'not a participant', true);
  if (deps.shares.has(body.walletId))
    throw new Refusal('QUORATE_E_BAD_ENVELOPE', 'wallet id already has a share here', true);
  if (deps.sessionsActive() >= limits.partySessionsActiveMax)
    throw new Refusal('QUORATE_E_OVERLOADED', 'too many sessions', false);
  if (body.tier !== undefined && !deps.policy?.rules.tiers.has(body.tier))
    throw new Refusal(
      'QUORATE_E_POLICY_DENIED',
      `this party has no policy for tier ${body.tier}`,
      true,
    );
  const sealer = createSealer({
    context: `${body.walletId}|${e.sessionId}`,
    self: partyId,
    boxSecret: identity.boxSecret,
    peerBoxKeys: body.boxKeys,
    randomBytes: env.randomBytes,
  });
  const role = deps.engines[body.scheme].keygenParticipant({
    walletId: body.walletId,
    partyId,
    parties: body.parties,
    threshold: body.threshold,
    rng: env.randomBytes,
    sealer,
  });
  const cancelTtl = env.setTimer(limits.keygenDeadlineMs + limits.abortCleanupMsMax, () =>
    deps.drop(e.sessionId, 'keygen TTL expired'),
  );
  const onDone = (result: KeyShare): void => {
    const share = body.tier === undefined ? result : { ...result, tier: body.tier };
    deps.shares.put(share);
    deps.log.info({ walletId: body.walletId }, 'key share stored (encrypted)');
  };
  return {
    kind: 'keygen',
    sessionId: e.sessionId,
    attempt: e.attempt,
    token: e.token,
    via,
    role,
    oneTimeSecret: undefined,
    ledger: undefined,
    hooks: { onDone },
    cancelTtl,
  };
}
