/**
 * The transcript confirmation that ends every key generation on a party (A3), around any
 * engine's keygen role. When the engine finishes, the party does not keep its share yet: it
 * signs the transcript of the public result with its identity key and sends it with the
 * engine's last messages. The coordinator relays every participant's confirmation; the party
 * activates (stores) its share only if each one names the same transcript and, when the party
 * pins an operator key, verifies under that peer's certified identity key. Otherwise it refuses
 * with `QUORATE_E_UNTRUSTED_PEER`: the parties' views differ (a relay that equivocated, or a peer
 * that lies), and no party that checks ends with a usable share of a key the others disagree on.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type {
  MaybePromise,
  Payload,
  Scheme,
  PartyRole,
  ProtocolMessage,
  ProtocolStep,
} from '../protocol/engine.ts';
import { coordinatorRole, isPromise } from '../protocol/engine.ts';
import { signDetached, type IdentityKeys } from '../transport/identity.ts';
import {
  buildActivatedPayload,
  buildConfirmPayload,
  confirmationStatement,
  confirmationVerifies,
  keygenActivateRound,
  keygenConfirmDomain,
  keygenConfirmRound,
  keygenTranscript,
  validateActivatePayload,
  type KeygenConfirmation,
  type ReshareBlock,
} from '../transport/wire.ts';
import { Refusal } from './refusal.ts';

/** What the confirmation needs to know about the run. */
export interface ConfirmArgs {
  walletId: string;
  keygenId: string;
  partyId: string;
  /** Everyone who confirms: the parties, and a reshare's dealers. */
  parties: string[];
  identity: IdentityKeys;
  /**
   * Each participant's identity key (hex) as the operator certified it; undefined when this
   * party pins no operator key (it then checks that the transcripts agree, not who signed).
   */
  certifiedIdentityKeys: Record<string, string> | undefined;
  /** The participants' box keys as keygen-start gave them (bound into the transcript). */
  boxKeys: Record<string, string>;
  /** The wallet's policy tier, if governed (bound into the transcript). */
  tier: string | undefined;
  /** A refresh or reshare: what it replaces (bound into the transcript). */
  reshare?: ReshareBlock | undefined;
}

/** The public result of a run, as the transcript names it. */
export interface PublicResult {
  scheme: Scheme;
  threshold: number;
  parties: string[];
  publicKey: string;
  publicPackage: Payload;
}

const untrusted = (reason: string): Refusal =>
  new Refusal('QUORATE_E_UNTRUSTED_PEER', reason, true);

/**
 * Wraps an engine's keygen (or reshare) role so that its result is kept only after the
 * confirmation; `describe` names the public result the transcript binds.
 */
export class ConfirmedKeygenRole<R> implements PartyRole<R> {
  private held: { share: R; confirm: KeygenConfirmation } | undefined;

  constructor(
    private readonly inner: PartyRole<R>,
    private readonly args: ConfirmArgs,
    private readonly describe: (result: R) => PublicResult,
  ) {}

  start(): MaybePromise<ProtocolStep<R>> {
    return this.inner.start();
  }

  handle(message: ProtocolMessage): MaybePromise<ProtocolStep<R>> {
    if (this.held) return this.activate(message, this.held);
    if (message.round === keygenActivateRound)
      throw untrusted('confirmations arrived before the key generation finished here');
    const out = this.inner.handle(message);
    return isPromise(out) ? out.then((step) => this.afterEngine(step)) : this.afterEngine(out);
  }

  /** The engine's step: a finished engine holds its share back and confirms instead. */
  private afterEngine(step: ProtocolStep<R>): ProtocolStep<R> {
    if (step.kind !== 'done') return step;
    const { walletId, keygenId, partyId, identity } = this.args;
    const share = step.result;
    const view = this.describe(share);
    const transcript = keygenTranscript({
      walletId,
      keygenId,
      boxKeys: this.args.boxKeys,
      tier: this.args.tier,
      ...view,
      reshare: this.args.reshare,
    });
    const statement = confirmationStatement({ walletId, keygenId, partyId, transcript });
    const signature = bytesToHex(signDetached(keygenConfirmDomain, statement, identity.signSecret));
    const confirm: KeygenConfirmation = { transcript, publicKey: view.publicKey, signature };
    this.held = { share, confirm };
    const confirmMessage: ProtocolMessage = {
      from: partyId,
      to: coordinatorRole,
      round: keygenConfirmRound,
      payload: buildConfirmPayload(confirm),
    };
    return { kind: 'continue', outgoing: [...step.outgoing, confirmMessage] };
  }

  /** Every participant's confirmation: all the same transcript, each signed by its party. */
  private activate(
    message: ProtocolMessage,
    held: { share: R; confirm: KeygenConfirmation },
  ): ProtocolStep<R> {
    if (message.round !== keygenActivateRound)
      throw untrusted(`unexpected round ${message.round} while confirming`);
    const all = validateActivatePayload(message.payload, this.args.parties);
    if (!all.ok) throw untrusted(all.reason);
    const { walletId, keygenId, partyId } = this.args;
    const disagree: string[] = [];
    for (const [peer, confirm] of Object.entries(all.value)) {
      if (peer === partyId) {
        if (
          confirm.signature !== held.confirm.signature ||
          confirm.transcript !== held.confirm.transcript
        )
          throw untrusted('the relayed confirmation of this party is not the one it sent');
        continue;
      }
      const identityKey = this.args.certifiedIdentityKeys?.[peer];
      if (
        identityKey !== undefined &&
        !confirmationVerifies({ walletId, keygenId, partyId: peer }, confirm, identityKey)
      )
        throw untrusted(`confirmation of ${peer} is not signed by its certified identity key`);
      if (confirm.transcript !== held.confirm.transcript) disagree.push(peer);
    }
    if (disagree.length > 0) {
      // Each confirmation is signed by its party: their views of the run really differ.
      throw untrusted(
        `parties confirmed different key generation transcripts (${disagree.join(', ')} differ from this party): the relay equivocated or a peer lies`,
      );
    }
    const activated: ProtocolMessage = {
      from: partyId,
      to: coordinatorRole,
      round: keygenActivateRound,
      payload: buildActivatedPayload(held.confirm.transcript),
    };
    return { kind: 'done', outgoing: [activated], result: held.share };
  }

  wipe(): void {
    this.inner.wipe();
    this.held = undefined;
  }
}
