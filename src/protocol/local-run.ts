/**
 * Runs every role of a protocol in one process with no network: the reference for tests and
 * the "raw" signing benchmark. Pure: randomness is a parameter.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type {
  KeyShare,
  ProtocolMessage,
  ProtocolRole,
  ProtocolStep,
  Scheme,
  ShareSealer,
  SignatureEngine,
} from './engine.ts';
import { engines, frostSchemeOf } from './frost.ts';
import { boxPublicKey, createSealer } from './sealed-box.ts';

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

/** Full DKG among `parties` in memory; returns each party's KeyShare. */
export function runKeygen(
  scheme: Scheme,
  parties: string[],
  threshold: number,
  rng: Rng,
  engine: SignatureEngine = engines[frostSchemeOf(scheme)],
): KeyShare[] {
  const sealers = sealersFor(parties, 'w|k', rng);
  const roles = new Map<string, ProtocolRole<unknown>>();
  roles.set('coordinator', engine.keygenCoordinator({ parties, threshold, walletId: 'w' }));
  roles.get('coordinator')!.start();
  const queue: ProtocolMessage[] = [];
  for (const p of parties) {
    const role = engine.keygenParticipant({
      walletId: 'w',
      partyId: p,
      parties,
      threshold,
      rng,
      sealer: sealers.get(p)!,
    });
    roles.set(p, role);
    queue.push(...role.start().outgoing);
  }
  const results = new Map<string, KeyShare>();
  deliver(queue, roles, results);
  return parties.map((p) => {
    const r = results.get(p);
    if (!r) throw new Error(`keygen did not finish for ${p}`);
    return r;
  });
}

/** One signing run among `signers`; optionally corrupts one party's share. */
export function runSigning(
  scheme: Scheme,
  keys: KeyShare[],
  signers: string[],
  message: Uint8Array,
  rng: Rng,
  fault: { corruptShareOf?: string } = {},
  engine: SignatureEngine = engines[frostSchemeOf(scheme)],
): Uint8Array {
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
    const role = engine.signer({
      key,
      message,
      signers,
      rng,
      sealer: sealers.get(p)!,
      runId: 'w|s',
    });
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
