/**
 * Key generation on the party: what a keygen-start must satisfy (this party takes part, holds
 * no share of the wallet yet, knows the wallet's policy tier, and, when it pins an operator key,
 * every participant's keys carry that operator's certificate), the participant role with the
 * sealer its round-2 shares are boxed with, the transcript confirmation around it
 * (keygen-confirm.ts), and storing the confirmed share sealed.
 */
import type { Env, Log } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import { tierFits, type LoadedPolicy } from '../policy/rules/index.ts';
import type { KeyShare, PartyEngine, Scheme, ShareSealer } from '../protocol/engine.ts';
import { createSealer } from '../protocol/sealed-box.ts';
import { bytesToHex } from '@noble/hashes/utils.js';
import { certificateProblem } from '../transport/certificate.ts';
import type { IdentityKeys } from '../transport/identity.ts';
import { keygenParticipants, type Envelope, type KeygenStartBody } from '../transport/wire.ts';
import { keygenSession, type SessionSpec } from './driver.ts';
import type { KeyShares } from './key-shares.ts';
import { ConfirmedKeygenRole } from './keygen-confirm.ts';
import type { PartyTrust } from './runtime.ts';
import { Refusal } from './refusal.ts';

/** What key generation needs from the party. */
export interface KeygenDeps {
  partyId: string;
  env: Env;
  log: Log;
  identity: IdentityKeys;
  policy: LoadedPolicy | undefined;
  /** The engine of each scheme this party runs (a scheme without one is refused). */
  engines: Partial<Record<Scheme, PartyEngine>>;
  shares: KeyShares;
  /** The operator key this party pins (and its own certificate), if any. */
  trust: PartyTrust | undefined;
  /** With a policy loaded: also take part in wallets without a tier (ungoverned). */
  allowUngoverned: boolean;
  /** Sessions this party holds now (bounded by partySessionsActiveMax). */
  sessionsActive(): number;
  /** Drops a session (its secrets wiped). */
  drop(sessionId: string, reason: string): void;
}

/**
 * The participants' certified identity keys, after checking that every participant's box key
 * in `body` carries a certificate from the operator key this party pins (its own included: a
 * coordinator must not swap this party's keys either). Undefined when this party pins no
 * operator key: it then takes box keys from the coordinator (legacy, warned at start).
 */
export function trustedPeers(
  deps: KeygenDeps,
  body: KeygenStartBody,
): Record<string, string> | undefined {
  const { trust, partyId, identity } = deps;
  if (trust === undefined) return undefined;
  const identityKeys: [string, string][] = [];
  for (const peer of keygenParticipants(body)) {
    const certs = body.certificates;
    const cert = certs !== undefined && Object.hasOwn(certs, peer) ? certs[peer] : undefined;
    if (cert === undefined)
      throw new Refusal('QUORATE_E_UNTRUSTED_PEER', `no operator certificate for ${peer}`, true);
    const problem = certificateProblem(cert, trust.operatorKey, {
      partyId: peer,
      boxKey: Object.hasOwn(body.boxKeys, peer) ? (body.boxKeys[peer] ?? '') : '',
      ...(peer === partyId
        ? { identityKey: bytesToHex(identity.signPublic), boxKey: bytesToHex(identity.boxPublic) }
        : {}),
    });
    if (problem !== undefined) throw new Refusal('QUORATE_E_UNTRUSTED_PEER', problem, true);
    identityKeys.push([peer, cert.identityKey]);
  }
  return Object.fromEntries(identityKeys);
}

/**
 * The wallet's rules, as this party's own policy defines them, not as the coordinator says: a
 * tier must exist here with exactly this threshold and these parties; a party that enforces a
 * policy holds governed shares only, unless its operator allowed ungoverned wallets. Otherwise a
 * coordinator could create a wallet the caller believes governed while this party holds a share
 * no rule applies to.
 */
export function checkTier(deps: KeygenDeps, body: KeygenStartBody): void {
  const deny = (reason: string) => new Refusal('QUORATE_E_POLICY_DENIED', reason, true);
  if (body.tier === undefined) {
    if (deps.policy !== undefined && !deps.allowUngoverned)
      throw deny('this party enforces a policy and holds governed shares only (no tier given)');
    return;
  }
  const tier = deps.policy?.rules.tiers.get(body.tier);
  if (tier === undefined) throw deny(`this party has no policy for tier ${body.tier}`);
  if (!tierFits(tier, body.threshold, body.parties))
    throw deny(`tier ${body.tier} is ${tier.threshold}-of-[${tier.shares.join(', ')}] here`);
}

/** The party's engine for `scheme`, or a hard refusal if it runs none. */
export function engineFor(
  engines: Partial<Record<Scheme, PartyEngine>>,
  scheme: Scheme,
): PartyEngine {
  const engine = engines[scheme];
  if (engine === undefined)
    throw new Refusal('QUORATE_E_UNSUPPORTED_SCHEME', `this party runs no ${scheme} engine`, true);
  return engine;
}

/** The sealer of one run (key generation, reshare, its test signature) to `peerBoxKeys`. */
export function runSealer(
  deps: Pick<KeygenDeps, 'partyId' | 'identity' | 'env'>,
  sessionId: string,
  walletId: string,
  peerBoxKeys: Record<string, string>,
): ShareSealer {
  return createSealer({
    context: `${walletId}|${sessionId}`,
    self: deps.partyId,
    boxSecret: deps.identity.boxSecret,
    peerBoxKeys,
    randomBytes: deps.env.randomBytes,
  });
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
  // Peer keys first: a coordinator that substitutes them is named for it, whatever else it got wrong.
  const certifiedIdentityKeys = trustedPeers(deps, body);
  checkTier(deps, body);
  const sealer = runSealer(deps, e.sessionId, body.walletId, body.boxKeys);
  const engineRole = engineFor(deps.engines, body.scheme).keygenParticipant({
    walletId: body.walletId,
    partyId,
    parties: body.parties,
    threshold: body.threshold,
    rng: env.randomBytes,
    sealer,
  });
  const { walletId, parties, boxKeys, tier } = body;
  const confirm = { walletId, keygenId: e.sessionId, partyId, parties, identity, boxKeys, tier };
  const role = new ConfirmedKeygenRole(
    engineRole,
    { ...confirm, certifiedIdentityKeys },
    (share: KeyShare) => share,
  );
  const cancelTtl = env.setTimer(limits.keygenDeadlineMs + limits.abortCleanupMsMax, () =>
    deps.drop(e.sessionId, 'keygen TTL expired'),
  );
  const onDone = (result: KeyShare): void => {
    const share = body.tier === undefined ? result : { ...result, tier: body.tier };
    deps.shares.put(share);
    deps.log.info({ walletId: body.walletId }, 'key share stored (encrypted)');
  };
  return keygenSession(e, via, role, onDone, cancelTtl);
}
