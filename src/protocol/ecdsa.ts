/**
 * Threshold ECDSA over secp256k1 (DKLs23, "Threshold ECDSA in Three Rounds", eprint 2023/765)
 * on `@0xcarbon/dkls23-wasm`, adapted to the round-based {@link SignatureEngine} interface. No
 * cryptography of its own: the party roles call the engine's phases; the coordinator roles only
 * relay sealed messages and verify with the standard ECDSA verifier.
 *
 * - Every value from a peer is decoded against its exact shape (dkls23-messages.ts) inside a
 *   box only its sender could seal, so a malformed value is blamed on that sender and never
 *   reaches the engine (which panics on malformed input).
 * - The engine does not prevent nonce reuse: a signer's one-time secret is its phase-1 instance
 *   key, spent by round 3 (phase 3's broadcast combines it with the message), so the party's
 *   journal consumes it durably before phase 3 runs (I2).
 * - The engine's abort names the party that detected a fault, not the culprit: its text is kept
 *   as evidence, and nobody is blamed on its word.
 * - Key generation ends with a test signature by every t-subset (ecdsa-keygen.ts).
 */
import type { PartyEngine, SignatureEngine } from './engine.ts';
import { verifyEcdsa, type Dkls23Api } from './ecdsa-common.ts';
import { EcdsaKeygenCoordinator, EcdsaKeygenParticipant } from './ecdsa-keygen.ts';
import { EcdsaAggregator, EcdsaSigner } from './ecdsa-signing.ts';

export type { Dkls23Api } from './ecdsa-common.ts';
export { recoveryIdOf, verifyEcdsa } from './ecdsa-common.ts';

/**
 * The `ecdsa` engine as the coordinator and the checkers use it: its coordinator roles and its
 * verifier. It runs no engine phase, so its party roles refuse (a party uses
 * {@link ecdsaPartyEngine}).
 */
export function ecdsaEngine(): SignatureEngine {
  const refuse = (): never => {
    throw new Error('ecdsa party roles run on a party engine (ecdsaPartyEngine)');
  };
  return {
    scheme: 'ecdsa',
    keygenParticipant: refuse,
    keygenCoordinator: (args) => new EcdsaKeygenCoordinator(args),
    signer: refuse,
    aggregator: (args) => new EcdsaAggregator(args),
    verify: (sig, msg, pk) => verifyEcdsa(sig, msg, pk),
    signingSealsPeerMessages: true,
    aggregateVerifies: true,
  };
}

/**
 * A party's `ecdsa` engine on its engine instance (src/party/dkls23-instance.ts). Its roles
 * answer asynchronously: the instance may run in a worker thread.
 */
export function ecdsaPartyEngine(api: Dkls23Api): PartyEngine {
  return {
    scheme: 'ecdsa',
    keygenParticipant: (args) => new EcdsaKeygenParticipant(api, args),
    signer: (args) => new EcdsaSigner(api, args),
  };
}
