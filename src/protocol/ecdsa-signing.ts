/**
 * DKLs23 signing roles: the party's signer (four rounds, the one-time secret spent by round 3)
 * and the coordinator's aggregator (relays sealed rounds, verifies the signature).
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { assert } from '../core/assert.ts';
import { encodeShape, type Shape } from './dkls23-shapes.ts';
import { deriveChildParty } from './ecdsa-derivation.ts';
import { shapes } from './dkls23-messages.ts';
import {
  abortStep,
  checkAddressed,
  decodeFrom,
  EngineAbort,
  indexOf,
  partyOf,
  PeerFault,
  publicOf,
  recoveryIdOf,
  recordField,
  sealedHexCharsMax,
  signData,
  signIdOf,
  tagged,
  untagged,
  uSumIsZero,
  SigningRun,
  stringField,
  verifyEcdsa,
  type Dkls23Api,
} from './ecdsa-common.ts';
import type {
  AggregateResult,
  AggregatorArgs,
  OneTimeSecret,
  Payload,
  ProtocolMessage,
  ProtocolRole,
  ProtocolStep,
  SignerArgs,
  PartySignerRole,
  SignerResult,
} from './engine.ts';
import { coordinatorRole } from './engine.ts';

/**
 * A signer: round 1 sends phase-1 messages, round 2 phase-2, round 3 (spends the one-time
 * secret) the phase-3 broadcast, round 4 the signature. Party-to-party messages are sealed to
 * their recipient; the coordinator's role relays them.
 */
export class EcdsaSigner implements PartySignerRole {
  round = 0;
  private run: SigningRun | undefined;
  private secret: OneTimeSecret | undefined;
  private readonly me: number;
  private readonly signerIndices: number[];
  private readonly party: unknown;

  private readonly runId: string;

  constructor(
    private readonly api: Dkls23Api,
    private readonly args: SignerArgs,
  ) {
    // Every signer derives the engine's sign id from it: the coordinator's attempt, not ours.
    if (args.runId === undefined) throw new Error('ecdsa signing needs the attempt run id');
    this.runId = args.runId;
    this.party = partyOf(args.key);
    this.me = indexOf(args.key.parties, args.key.partyId);
    this.signerIndices = args.signers.map((p) => indexOf(args.key.parties, p));
  }

  async start(): Promise<ProtocolStep<SignerResult>> {
    assert(this.round === 0, 'signer started twice');
    this.round = 1;
    try {
      if (this.args.message.length !== 32) throw new Error('ecdsa signs a 32-byte digest');
      // DKLs23 signs with exactly t parties; the engine panics on any other count.
      if (this.args.signers.length !== this.args.key.threshold)
        throw new Error(`ecdsa signs with exactly ${this.args.key.threshold} signers`);
      const data = signData(this.runId, this.me, this.signerIndices, this.args.message);
      // A child key: this party's child share, from the engine's own derivation.
      const path = this.args.derivationPath ?? [];
      const party =
        path.length === 0 ? this.party : await deriveChildParty(this.api, this.party, path);
      const run = await SigningRun.open(this.api, party, data);
      if (this.round !== 1) return abortStep(new Error('wiped while starting'), undefined);
      this.run = run;
      // The one-time secret is named by the sign id, not by the fresh instance point: the
      // journal then refuses a second run under one id (a re-sent sign-start, a restart) before
      // any phase-1 output leaves, as well as a second phase 3 (I2). Every signer of a run
      // shares the sign id; the secret is this party's, so its name carries the party too.
      this.secret = {
        id: `dkls23-sign:${bytesToHex(signIdOf(this.runId))}:${this.args.key.partyId}`,
        spentAtRound: 3,
      };
      this.round = 2;
      return { kind: 'continue', outgoing: [this.sealedOut(1, run.phase1Out, shapes.sign1)] };
    } catch (error) {
      return abortStep(error, undefined);
    }
  }

  async handle(message: ProtocolMessage): Promise<ProtocolStep<SignerResult>> {
    const run = this.run;
    if (run === undefined || message.round !== this.round)
      return abortStep(new PeerFault(message.from, `unexpected round ${message.round}`), undefined);
    // The next round is claimed before any await: a message replayed meanwhile is refused.
    this.round = -2;
    try {
      if (message.round === 2) {
        const out = await run.phase2(this.openAll(message, shapes.sign1));
        this.round = 3;
        return { kind: 'continue', outgoing: [this.sealedOut(2, out, shapes.sign2)] };
      }
      if (message.round === 3) {
        const received = this.openAll(message, shapes.sign2);
        this.secret = undefined; // spent by this step (consumed durably by the journal first)
        const b = await run.phase3(received);
        this.round = 4;
        const payload = { x: b.x, u: b.u.toLowerCase(), w: b.w.toLowerCase() };
        return { kind: 'continue', outgoing: [this.toCoordinator(3, payload)] };
      }
      const { s, recid } = await run.phase4(this.parseBroadcasts(message));
      this.round = -1;
      this.run = undefined;
      return {
        kind: 'done',
        outgoing: [this.toCoordinator(4, { s, recid })],
        result: { commitment: run.secretId },
      };
    } catch (error) {
      this.round = -1;
      return abortStep(error, undefined);
    }
  }

  /** Round 4: every signer's `{u, w}` (ours unchanged) and the common x-coordinate. */
  private parseBroadcasts(message: ProtocolMessage): unknown[] {
    const all = recordField(message.payload, 'broadcasts', message.from);
    const broadcasts = this.args.signers.map((p) => {
      const entry = all[p];
      if (typeof entry !== 'object' || entry === null)
        throw new PeerFault(message.from, `broadcast of ${p} missing`);
      const e = entry as Payload;
      const bytes = hexToBytes(
        stringField(e, 'u', message.from, 64) + stringField(e, 'w', message.from, 64),
      );
      return decodeFrom(shapes.sign3, bytes, message.from, `broadcast of ${p}`);
    });
    if (uSumIsZero(broadcasts.map((b) => (b as { u: string }).u)))
      throw new PeerFault(message.from, 'broadcasts whose u values sum to zero');
    return broadcasts;
  }

  /** Opens and decodes the sealed message of every other signer, addressed to us. */
  private openAll(message: ProtocolMessage, shape: Shape): unknown[] {
    const sealed = recordField(message.payload, 'sealed', message.from);
    const out: unknown[] = [];
    for (const peer of this.args.signers) {
      if (peer === this.args.key.partyId) continue;
      const box = sealed[peer];
      if (typeof box !== 'string' || box.length > sealedHexCharsMax)
        throw new PeerFault(message.from, `message from ${peer} missing`);
      let plain: Uint8Array;
      try {
        plain = this.args.sealer.open(peer, box);
      } catch {
        throw new PeerFault(message.from, `sealed message from ${peer} failed authentication`);
      }
      const body = untagged(message.round - 1, plain, message.from);
      const decoded = decodeFrom(shape, body, peer, `message from ${peer}`);
      checkAddressed(decoded, indexOf(this.args.key.parties, peer), this.me, peer);
      out.push(decoded);
    }
    return out;
  }

  private sealedOut(round: number, byIndex: Map<number, unknown>, shape: Shape): ProtocolMessage {
    const sealed: Record<string, string> = {};
    for (const peer of this.args.signers) {
      if (peer === this.args.key.partyId) continue;
      const m = byIndex.get(indexOf(this.args.key.parties, peer));
      assert(m !== undefined, 'the engine addresses every counterparty');
      sealed[peer] = this.args.sealer.seal(peer, tagged(round, encodeShape(shape, m)));
    }
    return this.toCoordinator(round, { sealed });
  }

  private toCoordinator(round: number, payload: Payload): ProtocolMessage {
    return { from: this.args.key.partyId, to: coordinatorRole, round, payload };
  }

  oneTimeSecret(): OneTimeSecret | undefined {
    return this.secret;
  }

  wipe(): void {
    this.run?.wipe();
    this.run = undefined;
    this.secret = undefined;
    this.round = -1;
  }
}

/**
 * The coordinator's signing role: relays the sealed rounds 1 and 2, gathers the phase-3
 * broadcasts and sends them to every signer, and takes the first round-4 signature that
 * verifies under the wallet key (low-S, the standard verifier).
 */
export class EcdsaAggregator implements ProtocolRole<AggregateResult> {
  round = 0;
  private readonly got = new Map<string, Payload>();
  private readonly publicKey: Uint8Array;

  constructor(private readonly args: AggregatorArgs) {
    this.publicKey = hexToBytes(publicOf(args.publicPackage).publicKey);
  }

  start(): ProtocolStep<AggregateResult> {
    this.round = 1;
    return { kind: 'continue', outgoing: [] };
  }

  handle(message: ProtocolMessage): ProtocolStep<AggregateResult> {
    if (!this.args.signers.includes(message.from))
      return abortStep(new PeerFault(message.from, 'not a signer of this attempt'), undefined);
    if (message.round !== this.round) return { kind: 'continue', outgoing: [] };
    try {
      if (this.round === 4) return this.onSignature(message);
      this.got.set(message.from, message.payload);
      if (this.got.size < this.args.signers.length) return { kind: 'continue', outgoing: [] };
      const outgoing = this.round === 3 ? this.broadcasts() : this.relay();
      this.got.clear();
      this.round += 1;
      return { kind: 'continue', outgoing };
    } catch (error) {
      return abortStep(error, message.from);
    }
  }

  /** Rounds 1–2: each signer gets the boxes addressed to it. */
  private relay(): ProtocolMessage[] {
    const boxes = new Map<string, Record<string, unknown>>();
    for (const [from, payload] of this.got) boxes.set(from, recordField(payload, 'sealed', from));
    return this.args.signers.map((to) => {
      const sealed: Record<string, unknown> = {};
      for (const [from, map] of boxes) {
        if (from === to) continue;
        const box = map[to];
        if (typeof box !== 'string') throw new PeerFault(from, `no message for ${to}`);
        sealed[from] = box;
      }
      return { from: coordinatorRole, to, round: this.round + 1, payload: { sealed } };
    });
  }

  /** Round 3: every signer's `{u, w}` to every signer, with the x-coordinate they agree on. */
  private broadcasts(): ProtocolMessage[] {
    const all: Record<string, { u: string; w: string }> = {};
    const xs = new Set<string>();
    for (const [from, payload] of this.got) {
      const x = stringField(payload, 'x', from, 64);
      const u = stringField(payload, 'u', from, 64);
      const w = stringField(payload, 'w', from, 64);
      // Checked here, where the sender's signed envelope is the evidence: a value that is not a
      // scalar below the group order would make every honest signer refuse, blaming nobody.
      if (x.length !== 64) throw new PeerFault(from, 'x is not 32 bytes');
      decodeFrom(shapes.sign3, hexToBytes(u + w), from, 'its broadcast');
      xs.add(x);
      all[from] = { u, w };
    }
    if (xs.size !== 1)
      throw new EngineAbort('sign phase 3', { description: 'signers disagree on r' });
    if (uSumIsZero(Object.values(all).map((b) => b.u)))
      throw new EngineAbort('sign phase 3', { description: 'the u values sum to zero' });
    const x = [...xs][0] as string;
    this.x = x;
    return this.args.signers.map((to) => ({
      from: coordinatorRole,
      to,
      round: 4,
      payload: { x, broadcasts: all },
    }));
  }

  private x: string | undefined;

  private onSignature(message: ProtocolMessage): ProtocolStep<AggregateResult> {
    const s = stringField(message.payload, 's', message.from, 64);
    const x = this.x;
    assert(x !== undefined, 'round 4 follows the broadcasts');
    const signature = hexToBytes(x.padStart(64, '0') + s.padStart(64, '0'));
    if (!verifyEcdsa(signature, this.args.message, this.publicKey))
      throw new PeerFault(message.from, 'its signature does not verify');
    // The recovery id is computed here, from public values, not taken from the party.
    const recoveryId = recoveryIdOf(signature, this.args.message, this.publicKey);
    assert(recoveryId !== undefined, 'a verifying signature recovers its key');
    this.round = -1;
    return { kind: 'done', outgoing: [], result: { signature: bytesToHex(signature), recoveryId } };
  }

  wipe(): void {
    this.round = -1;
  }
}
