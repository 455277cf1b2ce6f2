/**
 * The exact shapes of `@0xcarbon/dkls23-wasm` 1.0.2's values (DKLs23 commit 2adefd4), as the
 * engine emits them for secp256k1: key-generation messages, signing messages and the key
 * share (`Party`). Learnt from the crate's types (`protocols/{dkg,signing}.rs`,
 * `utilities/{proofs,ot,multiplication}.rs`) and confirmed against the build's own output; the
 * fixed lengths are the crate's constants (64 proof repetitions, a 416-element OT gadget, 256
 * base OTs). Anything else from a peer or the keystore is refused before the engine sees it.
 */
import { limits } from '../core/limits.ts';
import {
  bool,
  bytes,
  indexMap,
  list,
  obj,
  point,
  scalar,
  text,
  typed,
  u32,
  u8,
  varbytes,
  varlist,
  type Shape,
} from './dkls23-shapes.ts';

const peers = limits.partiesMax;
const parties = obj({ sender: u8, receiver: u8 });

/** A Fiat–Shamir discrete-log proof (64 repetitions). */
const dlogProof = obj({
  point,
  rand_commitments: list(point, 64),
  proofs: list(obj({ challenge: bytes(4), challenge_response: scalar }), 64),
});

const chaumPedersen = obj({
  base_g: point,
  base_h: point,
  point_u: point,
  point_v: point,
  challenge_response: scalar,
});
const randCommitments = obj({ rc_g: point, rc_h: point });

/** The shapes of every value that crosses a boundary. */
export const shapes = {
  /** Key generation phase 1 → 2: one polynomial fragment (sealed to its party). */
  keygenFragment: scalar,
  /** Phase 2 broadcast: the proof of the party's polynomial point and its commitment. */
  keygenProofCommitment: obj({ index: u8, proof: dlogProof, commitment: bytes(32) }),
  /** Phase 2 broadcast: the chain-code commitment. */
  keygenChainCommitment: obj({ sender_index: u8, cc_commitment: bytes(32) }),
  /** Phase 2 → 4, per counterparty: the zero-share seed commitment. */
  keygenZeroCommitment: obj({ parties, commitment: bytes(32) }),
  /** Phase 3 → 4, per counterparty (sealed): the zero-share seed and its salt. */
  keygenZeroSeed: obj({ parties, seed: bytes(32), salt: bytes(64) }),
  /** Phase 3 → 4, per counterparty (sealed): the multiplication set-up (base OTs). */
  keygenMulInit: obj({
    parties,
    dlog_proof: dlogProof,
    nonce: scalar,
    enc_proofs: list(
      obj({
        proof0: chaumPedersen,
        proof1: chaumPedersen,
        commitments0: randCommitments,
        commitments1: randCommitments,
        challenge0: scalar,
        challenge1: scalar,
      }),
      256,
    ),
    seed: bytes(32),
  }),
  /** Phase 3 broadcast: the opened chain code. */
  keygenChainOpening: obj({ sender_index: u8, aux_chain_code: bytes(32), cc_salt: bytes(64) }),
  /** Signing phase 1 → 2, per counterparty (sealed). */
  sign1: obj({
    parties,
    commitment: bytes(32),
    mul_transmit: obj({ u: typed(19_968), verify_x: bytes(26), verify_t: list(bytes(26), 256) }),
  }),
  /** Signing phase 2 → 3, per counterparty (sealed). */
  sign2: obj({
    parties,
    gamma_u: point,
    gamma_v: point,
    psi: scalar,
    public_share: point,
    instance_point: point,
    salt: bytes(64),
    mul_transmit: obj({
      vector_of_tau: list(list(scalar, 416), 4),
      verify_r: bytes(32),
      verify_u: list(scalar, 2),
      gamma_sender: list(scalar, 2),
    }),
  }),
  /** Signing phase 3 broadcast. */
  sign3: obj({ u: scalar, w: scalar }),
  /** A party's key share (`Party`): secret, kept only encrypted at rest. */
  party: obj({
    parameters: obj({ threshold: u8, share_count: u8 }),
    party_index: u8,
    session_id: varbytes(256),
    poly_point: scalar,
    pk: point,
    zero_share: obj({
      seeds: varlist(obj({ lowest_index: bool, index_counterparty: u8, seed: bytes(32) }), peers),
    }),
    mul_senders: indexMap(
      obj({
        public_gadget: list(scalar, 416),
        ote_sender: obj({ correlation: list(bool, 256), seeds: list(bytes(32), 256) }),
      }),
      peers,
    ),
    mul_receivers: indexMap(
      obj({
        public_gadget: list(scalar, 416),
        ote_receiver: obj({ seeds0: list(bytes(32), 256), seeds1: list(bytes(32), 256) }),
      }),
      peers,
    ),
    derivation_data: obj({
      depth: u8,
      child_number: u32,
      parent_fingerprint: bytes(4),
      poly_point: scalar,
      pk: point,
      chain_code: bytes(32),
    }),
    eth_address: text(42),
  }),
} satisfies Record<string, Shape>;
