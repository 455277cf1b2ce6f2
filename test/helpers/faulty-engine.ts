/**
 * Test-only engine faults for a party process (test/helpers/faulty-party.ts): a cheating party
 * that corrupts its signature shares, and a slow one that holds its commitment or its share.
 * They wrap the party's engines from outside; production code has no such hook.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Env } from '../../src/core/env.ts';
import type {
  FrostScheme,
  MaybePromise,
  PartyEngine,
  PartySignerRole,
  ProtocolStep,
  Scheme,
} from '../../src/protocol/engine.ts';

/** What a faulty party does wrong. */
export interface PartyFaults {
  /** Flip the first byte of the `share` of every outgoing signing round-2 message. */
  corruptShare?: boolean;
  /** The signer's round-2 step (its share) resolves this much later. */
  delaySignMs?: number;
  /** The signer's round-1 step (its commitment) resolves this much later. */
  delayCommitMs?: number;
  /** ecdsa: send the group order as `u` in the phase-3 broadcast (not a scalar: blameable). */
  corruptEcdsaU?: boolean;
}

/** Longest delay a test may ask for: a session deadline is at most a minute. */
export const faultDelayMsMax = 60_000;

const faultyPartyPath = resolve(fileURLToPath(import.meta.url), '../faulty-party.ts');

/**
 * The argv prefix (after `node`) that starts a party with `faults` through the test-only entry,
 * for `LocalClusterOptions.partyEntries`; the usual party flags follow it.
 */
export function faultyPartyEntry(faults: PartyFaults): string[] {
  return [
    '--import',
    'tsx',
    faultyPartyPath,
    ...(faults.corruptShare === true ? ['--corrupt-share'] : []),
    ...(faults.corruptEcdsaU === true ? ['--corrupt-ecdsa-u'] : []),
    ...(faults.delaySignMs === undefined ? [] : ['--delay-sign-ms', String(faults.delaySignMs)]),
    ...(faults.delayCommitMs === undefined
      ? []
      : ['--delay-commit-ms', String(faults.delayCommitMs)]),
  ];
}

/** Splits the faulty party's own flags from the `quorate party` flags; throws on a bad value. */
export function parseFaultyPartyArgs(argv: readonly string[]): {
  faults: PartyFaults;
  partyArgs: string[];
} {
  const faults: PartyFaults = {};
  const partyArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--corrupt-share') faults.corruptShare = true;
    else if (arg === '--corrupt-ecdsa-u') faults.corruptEcdsaU = true;
    else if (arg === '--delay-sign-ms' || arg === '--delay-commit-ms') {
      const ms = Number(argv[++i]);
      if (!Number.isInteger(ms) || ms < 0 || ms > faultDelayMsMax)
        throw new RangeError(`${arg} needs an integer in [0, ${faultDelayMsMax}]`);
      if (arg === '--delay-sign-ms') faults.delaySignMs = ms;
      else faults.delayCommitMs = ms;
    } else partyArgs.push(arg);
  }
  return { faults, partyArgs };
}

/** `value`, resolved `delayMs` later on `env`'s timers (at once if 0). */
function later<T>(env: Env, delayMs: number, value: MaybePromise<T>): MaybePromise<T> {
  if (delayMs <= 0) return value;
  return new Promise<T>((done) => env.setTimer(delayMs, () => done(value)));
}

/** `step` with the first byte of each outgoing round-2 `share` flipped (a cheating party). */
function corruptShares<R>(step: ProtocolStep<R>): ProtocolStep<R> {
  const outgoing = step.outgoing.map((out) => {
    const share = out.payload['share'];
    if (out.round !== 2 || typeof share !== 'string' || share.length < 2) return out;
    const flipped = (Number.parseInt(share.slice(0, 2), 16) ^ 0xff).toString(16).padStart(2, '0');
    return { ...out, payload: { ...out.payload, share: flipped + share.slice(2) } };
  });
  return { ...step, outgoing };
}

function faultySigner(role: PartySignerRole, env: Env, faults: PartyFaults): PartySignerRole {
  return {
    start: () => later(env, faults.delayCommitMs ?? 0, role.start()),
    handle: (message) => {
      const step = role.handle(message);
      if (message.round !== 2) return step;
      const corrupted =
        faults.corruptShare === true
          ? step instanceof Promise
            ? step.then(corruptShares)
            : corruptShares(step)
          : step;
      return later(env, faults.delaySignMs ?? 0, corrupted);
    },
    wipe: () => role.wipe(),
    oneTimeSecret: () => role.oneTimeSecret(),
    // A wrapper must forward the final signer set, or the party refuses hedged sign-starts.
    ...(role.finalSigners === undefined
      ? {}
      : { finalSigners: (message) => role.finalSigners?.(message) }),
  };
}

/** `engines` with every signer wrapped by `faults`; keygen is left as it is. */
export function faultyEngines(
  engines: Record<FrostScheme, PartyEngine>,
  env: Env,
  faults: PartyFaults,
): Partial<Record<Scheme, PartyEngine>> {
  const wrap = (engine: PartyEngine): PartyEngine => ({
    scheme: engine.scheme,
    keygenParticipant: (args) => engine.keygenParticipant(args),
    signer: (args) => faultySigner(engine.signer(args), env, faults),
  });
  return {
    ed25519: wrap(engines.ed25519),
    bip340: wrap(engines.bip340),
    secp256k1: wrap(engines.secp256k1),
  };
}

/** secp256k1's group order: the smallest value that is not a scalar. */
const groupOrderHex = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';

/** `step` with the phase-3 broadcast's `u` replaced by the group order (a cheating signer). */
function corruptU<R>(step: ProtocolStep<R>): ProtocolStep<R> {
  const outgoing = step.outgoing.map((out) =>
    out.round === 3 && typeof out.payload['u'] === 'string'
      ? { ...out, payload: { ...out.payload, u: groupOrderHex } }
      : out,
  );
  return { ...step, outgoing };
}

/** `engines` with the ecdsa signer wrapped by `faults` (the others as they are). */
export function faultyEcdsa(
  engines: Partial<Record<Scheme, PartyEngine>>,
  faults: PartyFaults,
): Partial<Record<Scheme, PartyEngine>> {
  const ecdsa = engines.ecdsa;
  if (ecdsa === undefined || faults.corruptEcdsaU !== true) return engines;
  const signer = (args: Parameters<PartyEngine['signer']>[0]): PartySignerRole => {
    const role = ecdsa.signer(args);
    return {
      start: () => role.start(),
      handle: (message) => {
        const step = role.handle(message);
        if (message.round !== 3) return step;
        return step instanceof Promise ? step.then(corruptU) : corruptU(step);
      },
      wipe: () => role.wipe(),
      oneTimeSecret: () => role.oneTimeSecret(),
    };
  };
  return { ...engines, ecdsa: { ...ecdsa, signer } };
}
