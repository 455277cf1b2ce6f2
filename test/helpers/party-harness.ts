/**
 * A real PartyRuntime connected in-process to a test double of the coordinator: it completes
 * the handshake, then sends envelopes the party verifies like any other and collects every
 * envelope the party answers with.
 */
import { randomBytes } from 'node:crypto';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { sha256Hex } from '../../src/core/encoding.ts';
import { realEnv, type Env } from '../../src/core/env.ts';
import { MemoryJournal } from '../../src/party/journal-memory.ts';
import { PartyRuntime, type PartyOptions } from '../../src/party/runtime.ts';
import { coordinatorRole, type KeyShare } from '../../src/protocol/engine.ts';
import { EnvelopeSender } from '../../src/transport/envelope.ts';
import { generateIdentity, signDetached, type IdentityKeys } from '../../src/transport/identity.ts';
import {
  buildChallenge,
  buildEnvelopeFrame,
  buildWelcome,
  validateEnvelopeFrame,
  welcomeDomain,
  welcomeTranscript,
  type ChallengeFrame,
  type Envelope,
  type EnvelopeFields,
  type SignStartBody,
} from '../../src/transport/wire.ts';
import { linkPair, type TestLink } from './link-pair.ts';

export const testRng = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** A sealer that stores plaintext as hex: the journal here is memory, never a file. */
export const plainSealer = {
  seal: (_label: string, plaintext: Uint8Array) => bytesToHex(plaintext),
  open: (_label: string, sealed: string) => Uint8Array.from(Buffer.from(sealed, 'hex')),
};

/**
 * A hedged sign-start body: 2 of `asked` sign, the message is `pay <sessionId>` and the intent
 * key the session id; `extra` overrides any field.
 */
export function hedgedSignStartBody(
  walletId: string,
  sessionId: string,
  asked: string[],
  extra: Partial<SignStartBody> = {},
): SignStartBody {
  const message = utf8ToBytes(`pay ${sessionId}`);
  return {
    walletId,
    intentKey: sessionId,
    messageHex: bytesToHex(message),
    messageHash: sha256Hex(message),
    signers: asked,
    quorumSize: 2,
    deadlineMs: Date.now() + 30_000,
    remainingMs: 30_000,
    ...extra,
  };
}

/** A party under test and its coordinator double. */
export interface PartyHarness {
  party: PartyRuntime;
  journal: MemoryJournal;
  /** The party's X25519 box key (peers seal to it). */
  boxPublicKey: Uint8Array;
  /** Every envelope the party sent, in order. */
  received: Envelope[];
  /** Signs and sends `fields` to the party; returns what it answered synchronously. */
  send(fields: EnvelopeFields): Envelope[];
  close(): void;
}

/** A handshake run by {@link handshake}: both link ends, the challenge and the coordinator. */
export interface HandshakeRun {
  partySide: TestLink;
  coordSide: TestLink;
  challenge: ChallengeFrame;
  coordinator: IdentityKeys;
}

/**
 * Attaches `party` to a fresh in-memory link and plays a coordinator's handshake (challenge, then
 * a valid welcome from a new coordinator key); `onFrame` sees every frame the party sends.
 */
export function handshake(
  party: PartyRuntime,
  partyId: string,
  onFrame: (frame: unknown) => void,
): HandshakeRun {
  const coordinator = generateIdentity(testRng(64));
  const [partySide, coordSide] = linkPair();
  coordSide.onFrame(onFrame);
  party.attach(partySide);
  const challenge = buildChallenge({
    conn: bytesToHex(testRng(12)),
    nonce: bytesToHex(testRng(16)),
    coordinatorKey: bytesToHex(coordinator.signPublic),
  });
  coordSide.send(challenge);
  const proof = signDetached(
    welcomeDomain,
    welcomeTranscript({ ...challenge, partyId }),
    coordinator.signSecret,
  );
  coordSide.send(buildWelcome({ conn: challenge.conn, proof: bytesToHex(proof) }));
  return { partySide, coordSide, challenge, coordinator };
}

/** Starts a party holding `shares`, connected and past the handshake. */
export function connectedParty(
  partyId: string,
  shares: KeyShare[],
  options: Partial<PartyOptions> = {},
): PartyHarness {
  const env: Env = options.env ?? realEnv({ logLevel: 'silent' });
  const journal = new MemoryJournal(env.nowMs());
  for (const share of shares)
    journal.putSealedShare(
      share.walletId,
      plainSealer.seal('', utf8ToBytes(JSON.stringify(share))),
    );
  const identity = options.identity ?? generateIdentity(testRng(64));
  const party = new PartyRuntime({
    partyId,
    env,
    journal,
    sealer: plainSealer,
    identity,
    ...options,
  });
  const received: Envelope[] = [];
  const { coordSide, challenge, coordinator } = handshake(party, partyId, (frame) => {
    const checked = validateEnvelopeFrame(frame);
    if (checked.ok) received.push(checked.value.e);
  });
  const sender = new EnvelopeSender(
    coordinatorRole,
    partyId,
    challenge.conn,
    coordinator.signSecret,
  );
  return {
    party,
    journal,
    boxPublicKey: identity.boxPublic,
    received,
    send(fields) {
      const before = received.length;
      coordSide.send(buildEnvelopeFrame(sender.build(fields)));
      return received.slice(before);
    },
    close() {
      party.close();
    },
  };
}
