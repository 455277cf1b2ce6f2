/**
 * Runs every role of a protocol in one process with no network: the reference for tests and
 * the "raw" signing benchmark. Pure: randomness is a parameter.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type {
  AggregateResult,
  KeygenParticipantArgs,
  KeyShare,
  PartyEngine,
  PartyRole,
  Payload,
  ProtocolMessage,
  ProtocolRole,
  ProtocolStep,
  Scheme,
  ShareSealer,
  SignatureEngine,
} from './engine.ts';
import { engines, frostSchemeOf } from './frost.ts';
import { boxPublicKey, createSealer } from './sealed-box.ts';
import {
  reshareCoordinator,
  reshareParticipant,
  reshareParticipants,
  type ReshareOutcome,
} from './reshare.ts';

type Rng = (n: number) => Uint8Array;

/** One sealer per party for a run named `context`, over fresh box keys. */
function sealersFor(parties: string[], context: string, rng: Rng): Map<string, ShareSealer> {
  const secrets = new Map(parties.map((p) => [p, rng(32)]));
  const boxKeys = Object.fromEntries(
    [...secrets].map(([p, secret]) => [p, bytesToHex(boxPublicKey(secret))]),
  );
  return new Map(
    [...secrets].map(([self, boxSecret]) => [
      self,
      createSealer({ context, self, boxSecret, peerBoxKeys: boxKeys, randomBytes: rng }),
    ]),
  );
}

/** Sealers for an engine that seals nothing while signing: any use is a programmer error. */
function noSealers(parties: string[]): Map<string, ShareSealer> {
  const refuse = (): never => {
    throw new Error('this engine seals no signing message');
  };
  return new Map(parties.map((p) => [p, { seal: refuse, open: refuse }]));
}

function deliver<R>(
  queue: ProtocolMessage[],
  roles: Map<string, ProtocolRole<unknown>>,
  results: Map<string, R>,
): void {
  for (let guard = 0; queue.length > 0 && guard < 10_000; guard++) {
    const msg = queue.shift()!;
    const role = roles.get(msg.to);
    if (!role) throw new Error(`no role ${msg.to}`);
    const step = role.handle(msg) as ProtocolStep<R>;
    if (step.kind === 'abort')
      throw Object.assign(new Error(step.abort.reason), { blamed: step.abort.blamed });
    queue.push(...step.outgoing);
    if (step.kind === 'done') results.set(msg.to, step.result);
  }
}

/** A key generation participant's arguments, for wallet 'w'. */
function participantArgs(
  partyId: string,
  parties: string[],
  threshold: number,
  rng: Rng,
  sealers: Map<string, ShareSealer>,
): KeygenParticipantArgs {
  return { walletId: 'w', partyId, parties, threshold, rng, sealer: sealers.get(partyId)! };
}

/** Every party's key share, in party order (a party that did not finish is an error). */
function inPartyOrder(parties: string[], results: Map<string, KeyShare>): KeyShare[] {
  return parties.map((p) => {
    const r = results.get(p);
    if (!r) throw new Error(`keygen did not finish for ${p}`);
    return r;
  });
}

/** Full DKG among `parties` in memory; returns each party's KeyShare. */
export function runKeygen(
  scheme: Scheme,
  parties: string[],
  threshold: number,
  rng: Rng,
): KeyShare[] {
  const engine = engines[frostSchemeOf(scheme)];
  const sealers = sealersFor(parties, 'w|k', rng);
  const roles = new Map<string, ProtocolRole<unknown>>();
  roles.set('coordinator', engine.keygenCoordinator({ parties, threshold }));
  roles.get('coordinator')!.start();
  const queue: ProtocolMessage[] = [];
  for (const p of parties) {
    const role = engine.keygenParticipant(participantArgs(p, parties, threshold, rng, sealers));
    roles.set(p, role);
    queue.push(...role.start().outgoing);
  }
  const results = new Map<string, KeyShare>();
  deliver(queue, roles, results);
  return inPartyOrder(parties, results);
}

/** One signing run among `signers`; optionally corrupts one party's share. */
export function runSigning(
  scheme: Scheme,
  keys: KeyShare[],
  signers: string[],
  message: Uint8Array,
  rng: Rng,
  fault: { corruptShareOf?: string } = {},
): Uint8Array {
  const engine = engines[frostSchemeOf(scheme)];
  const roles = new Map<string, ProtocolRole<unknown>>();
  const aggregator = engine.aggregator({ publicPackage: keys[0]!.publicPackage, message, signers });
  aggregator.start();
  roles.set('coordinator', aggregator);
  const queue: ProtocolMessage[] = [];
  // Box keys cost two X25519 multiplications per signer: made only for an engine whose signing
  // seals peer messages, so the "raw" benchmark times the signing protocol and nothing else.
  const sealers =
    engine.signingSealsPeerMessages === true ? sealersFor(signers, 'w|s', rng) : noSealers(signers);
  for (const p of signers) {
    const key = keys.find((k) => k.partyId === p)!;
    const role = engine.signer({ key, message, signers, rng, sealer: sealers.get(p)! });
    roles.set(p, role);
    queue.push(...role.start().outgoing);
  }
  if (fault.corruptShareOf) {
    const original = roles.get(fault.corruptShareOf)!;
    roles.set(fault.corruptShareOf, {
      round: 0,
      start: () => original.start(),
      wipe: () => original.wipe(),
      handle: (m) => {
        const step = original.handle(m);
        for (const out of step.outgoing) {
          const share = hexToBytes(out.payload['share'] as string);
          share[3] = (share[3] ?? 0) ^ 0xff;
          out.payload = { share: bytesToHex(share) };
        }
        return step;
      },
    });
  }
  const results = new Map<string, { signature: string }>();
  deliver(queue, roles, results);
  const sig = results.get('coordinator');
  if (!sig) throw new Error('no signature');
  return hexToBytes(sig.signature);
}

/** A party role, or the coordinator's, by role id. */
type AnyRole = Pick<PartyRole<unknown>, 'start' | 'handle'>;

/** A started role's first messages; a role that gave up at once is an error. */
function startedOutgoing(step: ProtocolStep<unknown>): ProtocolMessage[] {
  if (step.kind === 'abort') throw new Error(`a role gave up at start: ${step.abort.reason}`);
  return step.outgoing;
}

/** Delivers messages (party roles may answer asynchronously) until none is left. */
async function deliverAsync<R>(
  queue: ProtocolMessage[],
  roles: Map<string, AnyRole>,
  results: Map<string, R>,
): Promise<void> {
  for (let guard = 0; queue.length > 0 && guard < 10_000; guard++) {
    const msg = queue.shift()!;
    const role = roles.get(msg.to);
    if (!role) throw new Error(`no role ${msg.to}`);
    const step = (await role.handle(msg)) as ProtocolStep<R>;
    if (step.kind === 'abort')
      throw Object.assign(new Error(step.abort.reason), {
        blamed: step.abort.blamed,
        evidence: step.abort.evidence,
      });
    queue.push(...step.outgoing);
    if (step.kind === 'done') results.set(msg.to, step.result);
  }
}

/** Full key generation with `partyEngine`'s roles (which may be asynchronous) in memory. */
export async function runKeygenWith(
  coordinatorEngine: SignatureEngine,
  partyEngine: PartyEngine,
  parties: string[],
  threshold: number,
  rng: Rng,
): Promise<KeyShare[]> {
  const sealers = sealersFor(parties, 'w|k', rng);
  const roles = new Map<string, AnyRole>();
  const coordinator = coordinatorEngine.keygenCoordinator({ parties, threshold, walletId: 'w' });
  coordinator.start();
  roles.set('coordinator', coordinator);
  const queue: ProtocolMessage[] = [];
  for (const p of parties) {
    const role = partyEngine.keygenParticipant(
      participantArgs(p, parties, threshold, rng, sealers),
    );
    roles.set(p, role);
    queue.push(...startedOutgoing(await role.start()));
  }
  const results = new Map<string, KeyShare>();
  await deliverAsync(queue, roles, results);
  return inPartyOrder(parties, results);
}

/** One signing run among `signers` with `partyEngine`'s roles; the aggregator's result. */
export async function runSigningWith(
  coordinatorEngine: SignatureEngine,
  partyEngine: PartyEngine,
  keys: KeyShare[],
  signers: string[],
  message: Uint8Array,
  rng: Rng,
  options: { runId?: string; derivationPath?: number[]; publicPackage?: Payload } = {},
): Promise<AggregateResult> {
  const runId = options.runId ?? 'w|s';
  const roles = new Map<string, AnyRole>();
  const aggregator = coordinatorEngine.aggregator({
    publicPackage: options.publicPackage ?? keys[0]!.publicPackage,
    message,
    signers,
  });
  aggregator.start();
  roles.set('coordinator', aggregator);
  const sealers = sealersFor(signers, runId, rng);
  const queue: ProtocolMessage[] = [];
  for (const p of signers) {
    const key = keys.find((k) => k.partyId === p)!;
    const role = partyEngine.signer({
      key,
      message,
      signers,
      rng,
      sealer: sealers.get(p)!,
      runId,
      ...(options.derivationPath === undefined ? {} : { derivationPath: options.derivationPath }),
    });
    roles.set(p, role);
    queue.push(...startedOutgoing(await role.start()));
  }
  const results = new Map<string, AggregateResult>();
  await deliverAsync(queue, roles, results);
  const result = results.get('coordinator');
  if (!result) throw new Error('no signature');
  return result;
}

/**
 * One reshare of `keys` (a FROST key) in memory: `dealers` (a t-quorum of `keys`) deal to
 * `receivers` under the new `threshold`; returns each receiver's new share, in receiver order.
 * `corruptConstantOf` makes that dealer deal a wrong constant term (a test of the blame).
 */
export function runReshare(
  keys: KeyShare[],
  dealers: string[],
  receivers: string[],
  threshold: number,
  rng: Rng,
  fault: { corruptConstantOf?: string } = {},
): KeyShare[] {
  const first = keys[0]!;
  const scheme = frostSchemeOf(first.scheme);
  const spec = {
    scheme,
    walletId: first.walletId,
    dealers,
    receivers,
    threshold,
    oldPublicPackage: first.publicPackage,
  };
  const participants = reshareParticipants(dealers, receivers);
  const sealers = sealersFor(participants, 'w|r', rng);
  const roles = new Map<string, ProtocolRole<unknown>>();
  const coordinator = reshareCoordinator(spec);
  coordinator.start();
  roles.set('coordinator', coordinator);
  const queue: ProtocolMessage[] = [];
  for (const p of participants) {
    const own = keys.find((k) => k.partyId === p);
    // A wrong constant term: another party's share (a valid scalar, not this dealer's).
    const other = keys.find((k) => k.partyId !== p);
    const oldShare =
      own && other && p === fault.corruptConstantOf
        ? {
            ...own,
            secretPackage: {
              ...own.secretPackage,
              signingShare: other.secretPackage['signingShare'],
            },
          }
        : own;
    const role = reshareParticipant({
      ...spec,
      partyId: p,
      oldShare: dealers.includes(p) ? oldShare : undefined,
      epoch: (first.epoch ?? 0) + 1,
      rng,
      sealer: sealers.get(p)!,
    });
    roles.set(p, role);
    queue.push(...role.start().outgoing);
  }
  const results = new Map<string, ReshareOutcome>();
  deliver(queue, roles, results);
  return receivers.map((p) => {
    const share = results.get(p)?.share;
    if (!share) throw new Error(`reshare did not finish for ${p}`);
    return share;
  });
}
