/**
 * Both ends of a party link, in-process, for hostile-input properties: the coordinator's
 * PartyRegistry (memory store) reached before the hello or as an enrolled party that signs its
 * envelopes, and a PartyRuntime reached before the challenge, after it, or after the welcome
 * (as a coordinator that signs its envelopes). Each call opens a fresh connection, so a test
 * can send anything on it; the caller sends, the end under test must never throw.
 */
import { randomBytes } from 'node:crypto';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { realEnv, type Env } from '../../src/core/env.ts';
import { PartyRegistry, defaultDetectorOptions } from '../../src/coordinator/party-registry.ts';
import { MemoryJournal } from '../../src/party/journal-memory.ts';
import { PartyRuntime } from '../../src/party/runtime.ts';
import { coordinatorRole, type KeyShare } from '../../src/protocol/engine.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { EnvelopeSender } from '../../src/transport/envelope.ts';
import { generateIdentity, signDetached, type IdentityKeys } from '../../src/transport/identity.ts';
import {
  buildChallenge,
  buildHello,
  buildWelcome,
  helloDomain,
  helloTranscript,
  validateChallenge,
  type ChallengeFrame,
  type HelloFrame,
  welcomeDomain,
  welcomeTranscript,
} from '../../src/transport/wire.ts';
import { linkPair, type TestLink } from './link-pair.ts';
import { plainSealer } from './party-harness.ts';

const rng = (n: number) => new Uint8Array(randomBytes(n));
const partySecret = 'hostile-ends-party-secret';

/**
 * The hello of a party enrolling with the shared secret, built from the wire contract alone (not
 * the party's handshake module, so the registry is tested against the contract).
 */
function helloOf(partyId: string, identity: IdentityKeys, challenge: ChallengeFrame): HelloFrame {
  const identityKey = bytesToHex(identity.signPublic);
  const boxKey = bytesToHex(identity.boxPublic);
  const { conn, nonce } = challenge;
  const transcript = helloTranscript({ conn, nonce, partyId, identityKey, boxKey });
  return buildHello({
    partyId,
    identityKey,
    boxKey,
    proof: bytesToHex(signDetached(helloDomain, transcript, identity.signSecret)),
    enrollMac: bytesToHex(hmac(sha256, utf8ToBytes(partySecret), transcript)),
  });
}

/** Lets pending promise callbacks (store calls, enrolment) run. */
export const settle = () => new Promise((resolve) => setImmediate(resolve));

/** One fresh connection to the end under test: send on `link`; `sender` signs envelopes. */
export interface HostileConnection {
  /** The attacker's end: what it sends reaches the end under test synchronously. */
  link: TestLink;
  /** Signs envelopes as the peer that completed the handshake (absent before it). */
  sender?: EnvelopeSender;
}

/** The coordinator's registry under test. */
export interface RegistryUnderTest {
  registry: PartyRegistry;
  /** A connection that has received the challenge and nothing else. */
  beforeHello(): HostileConnection;
  /** A connection on which party `partyId` enrolled (its keys are stable per id). */
  enrolled(partyId: string): Promise<HostileConnection>;
  stop(): void;
}

/** A PartyRegistry on a memory store, with a stub coordinator behind it. */
export function registryUnderTest(env: Env = realEnv({ logLevel: 'silent' })): RegistryUnderTest {
  const registry = new PartyRegistry(
    env,
    new MemoryStore(),
    generateIdentity(rng(64)),
    partySecret,
    defaultDetectorOptions,
    { onEnvelope: () => {}, onDisconnect: () => {}, onStateChange: () => {} },
  );
  const identities = new Map<string, IdentityKeys>();
  const connect = () => {
    const [coordSide, partyEnd] = linkPair();
    const frames: unknown[] = [];
    partyEnd.onFrame((frame) => frames.push(frame));
    registry.accept(coordSide);
    return { partyEnd, frames };
  };
  return {
    registry,
    beforeHello: () => ({ link: connect().partyEnd }),
    async enrolled(partyId) {
      const identity = identities.get(partyId) ?? generateIdentity(rng(64));
      identities.set(partyId, identity);
      const { partyEnd, frames } = connect();
      const challenge = validateChallenge(frames[0]);
      if (!challenge.ok) throw new Error(`no challenge: ${challenge.reason}`);
      partyEnd.send(helloOf(partyId, identity, challenge.value));
      await settle();
      if (!registry.isConnected(partyId)) throw new Error(`${partyId} did not enrol`);
      const sender = new EnvelopeSender(
        partyId,
        coordinatorRole,
        challenge.value.conn,
        identity.signSecret,
      );
      return { link: partyEnd, sender };
    },
    stop: () => registry.stop(),
  };
}

/** How far a party connection has come when the test takes it over. */
export type PartyPhase = 'before-challenge' | 'after-challenge' | 'after-welcome';

/** A party runtime under test. */
export interface PartyUnderTest {
  party: PartyRuntime;
  journal: MemoryJournal;
  /** A fresh connection, taken over in `phase`. */
  connect(phase: PartyPhase): HostileConnection;
  close(): void;
}

/**
 * A PartyRuntime holding `shares`, and a coordinator double with one stable identity (the
 * party pins it on the first welcome).
 */
export function partyUnderTest(
  partyId: string,
  shares: KeyShare[],
  env: Env = realEnv({ logLevel: 'silent' }),
): PartyUnderTest {
  const journal = new MemoryJournal(env.nowMs());
  for (const share of shares)
    journal.putSealedShare(
      share.walletId,
      plainSealer.seal('', utf8ToBytes(JSON.stringify(share))),
    );
  const party = new PartyRuntime({
    partyId,
    env,
    journal,
    sealer: plainSealer,
    identity: generateIdentity(rng(64)),
  });
  const coordinator = generateIdentity(rng(64));
  return {
    party,
    journal,
    connect(phase) {
      const [partySide, coord] = linkPair();
      party.attach(partySide);
      if (phase === 'before-challenge') return { link: coord };
      const challenge = buildChallenge({
        conn: bytesToHex(rng(12)),
        nonce: bytesToHex(rng(16)),
        coordinatorKey: bytesToHex(coordinator.signPublic),
        heartbeatMs: 1_000,
      });
      coord.send(challenge);
      if (phase === 'after-challenge') return { link: coord };
      const transcript = welcomeTranscript({ ...challenge, partyId });
      const proof = signDetached(welcomeDomain, transcript, coordinator.signSecret);
      coord.send(buildWelcome({ conn: challenge.conn, proof: bytesToHex(proof) }));
      const sender = new EnvelopeSender(
        coordinatorRole,
        partyId,
        challenge.conn,
        coordinator.signSecret,
      );
      return { link: coord, sender };
    },
    close: () => party.close(),
  };
}
