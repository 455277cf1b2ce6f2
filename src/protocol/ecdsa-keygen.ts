/**
 * DKLs23 key generation as Quorate runs it: the engine's four phases, then a test signature by
 * every t-subset of the parties, checked by the coordinator before the wallet can exist.
 *
 * Rounds (a party's sends; the coordinator relays round r's boxes as round r + 1, once it has
 * every party's, so they arrive in round order):
 *   1. phase 1: one polynomial fragment per peer;
 *   2. phase 2: proof and chain-code commitments, and a zero-share commitment, per peer;
 *   3. phase 3: the chain-code opening, the zero-share seed and the multiplication set-up;
 *   4. phase 4 gives the key share; then signing phase 1 of every subset the party is in;
 *   5. and 6. signing phases 2 and 3 of every subset;
 *   7. signing phase 4, and the confirmation: group key, address, every subset's signature.
 * Every party-to-party message is sealed to its recipient and sent as its own message (a 3-of-5
 * multiplication set-up is about 120 KB per peer), so no frame holds more than one peer's part.
 */
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { assert } from '../core/assert.ts';
import { sha256 } from '../core/openssl.ts';
import { encodeShape, hex, obj, scalar, u32, varlist, type Shape } from './dkls23-shapes.ts';
import { shapes } from './dkls23-messages.ts';
import {
  abortStep,
  arrayOf,
  call,
  checkAddressed,
  compressed,
  decodeFrom,
  EngineAbort,
  indexOf,
  keygenCheckDigest,
  okOf,
  PeerFault,
  receiverOf,
  recordField,
  sealedHexCharsMax,
  signData,
  SigningRun,
  stringField,
  subsetsOf,
  tagged,
  untagged,
  uSumIsZero,
  tuple,
  verifyEcdsa,
  type Dkls23Api,
} from './ecdsa-common.ts';
import type {
  KeygenParticipantArgs,
  KeygenResult,
  KeyShare,
  MaybePromise,
  PartyRole,
  Payload,
  ProtocolMessage,
  ProtocolRole,
  ProtocolStep,
} from './engine.ts';
import { coordinatorRole } from './engine.ts';
import { ethereumAddress } from './ethereum-address.ts';

/** The last round: the confirmation. */
const confirmRound = 7;

const round2: Shape = obj({
  proof: shapes.keygenProofCommitment,
  chain: shapes.keygenChainCommitment,
  zero: shapes.keygenZeroCommitment,
});
const round3: Shape = obj({
  chain: shapes.keygenChainOpening,
  zero: shapes.keygenZeroSeed,
  mul: shapes.keygenMulInit,
});
/** Test-signing messages to one peer: one per subset both are in (by the subset's bit mask). */
const perSubset = (message: Shape): Shape => varlist(obj({ subset: u32, message }), 64);
const check3: Shape = obj({ x: hex(32), u: scalar, w: scalar });

/** Bit mask of a subset (party positions in the wallet's list). */
const maskOf = (parties: readonly string[], subset: readonly string[]): number =>
  subset.reduce((m, p) => m | (1 << (indexOf(parties, p) - 1)), 0);

/** A key generation participant. */
export class EcdsaKeygenParticipant implements PartyRole<KeyShare> {
  round = 0;
  private readonly me: number;
  private readonly peers: string[];
  private readonly data: unknown;
  private readonly inbox = new Map<string, Uint8Array>();
  private keep: Record<string, unknown> = {};
  private party: unknown;
  private publicKey = '';
  private runs = new Map<number, { subset: string[]; run: SigningRun }>();
  private mine = new Map<number, { x: string; u: string; w: string }>();

  constructor(
    private readonly api: Dkls23Api,
    private readonly args: KeygenParticipantArgs,
  ) {
    this.me = indexOf(args.parties, args.partyId);
    this.peers = args.parties.filter((p) => p !== args.partyId);
    const sessionId = sha256(
      utf8ToBytes(`quorate-ecdsa-keygen-v1|${args.walletId}|${args.parties.join(',')}`),
    );
    this.data = {
      parameters: { threshold: args.threshold, share_count: args.parties.length },
      party_index: this.me,
      session_id: Array.from(sessionId),
    };
  }

  async start(): Promise<ProtocolStep<KeyShare>> {
    try {
      const fragments = arrayOf(
        await call('keygen phase 1', () => this.api.keygenPhase1(this.data)),
        'keygen phase 1',
      );
      assert(fragments.length === this.args.parties.length, 'one fragment per party');
      this.keep['fragment'] = fragments[this.me - 1];
      this.round = 2;
      return this.sendEach(1, (peer) =>
        encodeShape(shapes.keygenFragment, fragments[indexOf(this.args.parties, peer) - 1]),
      );
    } catch (error) {
      return abortStep(error, undefined);
    }
  }

  handle(message: ProtocolMessage): MaybePromise<ProtocolStep<KeyShare>> {
    try {
      if (message.round !== this.round)
        throw new PeerFault(message.from, `unexpected round ${message.round}`);
      const from = message.payload['from'];
      if (typeof from !== 'string' || !this.peers.includes(from) || this.inbox.has(from))
        throw new PeerFault(message.from, 'relayed message from an unexpected sender');
      const box = stringField(message.payload, 'sealed', message.from, sealedHexCharsMax);
      let plain: Uint8Array;
      try {
        plain = this.args.sealer.open(from, box);
      } catch {
        throw new PeerFault(from, `sealed message from ${from} failed authentication`);
      }
      this.inbox.set(from, untagged(this.round - 1, plain, message.from));
      if (this.inbox.size < this.peers.length) return { kind: 'continue', outgoing: [] };
    } catch (error) {
      return abortStep(error, undefined);
    }
    return this.step().catch((error: unknown) => abortStep<KeyShare>(error, undefined));
  }

  /** Every peer's message of the round is in: the next phase. */
  private async step(): Promise<ProtocolStep<KeyShare>> {
    const received = new Map(this.inbox);
    this.inbox.clear();
    const round = this.round;
    this.round += 1;
    if (round === 2) return this.phase2(received);
    if (round === 3) return this.phase3(received);
    if (round === 4) return this.phase4(received);
    if (round === 5) return this.check2(received);
    if (round === 6) return this.check3(received);
    return this.check4(received);
  }

  private async phase2(received: Map<string, Uint8Array>): Promise<ProtocolStep<KeyShare>> {
    const fragments = this.args.parties.map((p) =>
      p === this.args.partyId
        ? this.keep['fragment']
        : decodeFrom(shapes.keygenFragment, received.get(p) as Uint8Array, p, 'fragment'),
    );
    const [polyPoint, proof, zeroKeep, zeroOut, chainKeep, chain] = tuple(
      await call('keygen phase 2', () => this.api.keygenPhase2(this.data, fragments)),
      6,
      'keygen phase 2',
    );
    const zeroTo = new Map(arrayOf(zeroOut, 'zero commitments').map((m) => [receiverOf(m), m]));
    this.keep = { polyPoint, proof, zeroKeep, chainKeep, chain };
    return this.sendEach(2, (peer) =>
      encodeShape(round2, { proof, chain, zero: zeroTo.get(indexOf(this.args.parties, peer)) }),
    );
  }

  private async phase3(received: Map<string, Uint8Array>): Promise<ProtocolStep<KeyShare>> {
    const proofs: unknown[] = [];
    const zero2: unknown[] = [];
    const chains = new Map<number, unknown>();
    for (const p of this.args.parties) {
      const i = indexOf(this.args.parties, p);
      if (p === this.args.partyId) {
        proofs.push(this.keep['proof']);
        chains.set(i, this.keep['chain']);
        continue;
      }
      const m = decodeFrom(round2, received.get(p) as Uint8Array, p, 'round 2') as {
        proof: { index: number };
        chain: { sender_index: number };
        zero: unknown;
      };
      if (m.proof.index !== i || m.chain.sender_index !== i)
        throw new PeerFault(p, 'round 2 names another sender');
      checkAddressed(m.zero, i, this.me, p);
      proofs.push(m.proof);
      chains.set(i, m.chain);
      zero2.push(m.zero);
    }
    const [zeroKeep, zeroOut, mulKeep, mulOut, chain] = tuple(
      await call('keygen phase 3', () =>
        this.api.keygenPhase3(this.data, this.keep['zeroKeep'], this.keep['chainKeep']),
      ),
      5,
      'keygen phase 3',
    );
    const zeroTo = new Map(arrayOf(zeroOut, 'zero seeds').map((m) => [receiverOf(m), m]));
    const mulTo = new Map(arrayOf(mulOut, 'multiplication set-up').map((m) => [receiverOf(m), m]));
    this.keep = {
      polyPoint: this.keep['polyPoint'],
      proofs,
      zero2,
      chains,
      zeroKeep,
      mulKeep,
      chain,
    };
    return this.sendEach(3, (peer) => {
      const i = indexOf(this.args.parties, peer);
      return encodeShape(round3, { chain, zero: zeroTo.get(i), mul: mulTo.get(i) });
    });
  }

  private async phase4(received: Map<string, Uint8Array>): Promise<ProtocolStep<KeyShare>> {
    const zero3: unknown[] = [];
    const mul: unknown[] = [];
    const chains3 = new Map<number, unknown>();
    for (const p of this.args.parties) {
      const i = indexOf(this.args.parties, p);
      if (p === this.args.partyId) {
        chains3.set(i, this.keep['chain']);
        continue;
      }
      const m = decodeFrom(round3, received.get(p) as Uint8Array, p, 'round 3') as {
        chain: { sender_index: number };
        zero: unknown;
        mul: unknown;
      };
      if (m.chain.sender_index !== i) throw new PeerFault(p, 'round 3 names another sender');
      checkAddressed(m.zero, i, this.me, p);
      checkAddressed(m.mul, i, this.me, p);
      chains3.set(i, m.chain);
      zero3.push(m.zero);
      mul.push(m.mul);
    }
    const k = this.keep;
    const party = okOf(
      'keygen phase 4',
      await call('keygen phase 4', () =>
        this.api.keygenPhase4(
          this.data,
          k['polyPoint'],
          k['proofs'],
          k['zeroKeep'],
          k['zero2'],
          zero3,
          k['mulKeep'],
          mul,
          k['chains'],
          chains3,
        ),
      ),
    );
    this.keep = {};
    // Encoding checks the share has the shape signing will decode it with.
    encodeShape(shapes.party, party);
    this.party = party;
    this.publicKey = compressed(String((party as { pk: unknown }).pk));
    for (const subset of subsetsOf(this.args.parties, this.args.threshold)) {
      if (!subset.includes(this.args.partyId)) continue;
      const mask = maskOf(this.args.parties, subset);
      const indices = subset.map((p) => indexOf(this.args.parties, p));
      const data = signData(
        `keygen-check|${this.args.walletId}|${mask}`,
        this.me,
        indices,
        keygenCheckDigest(this.args.walletId, subset),
      );
      this.runs.set(mask, { subset, run: await SigningRun.open(this.api, party, data) });
    }
    return this.sendSubsets(4, shapes.sign1, (run, i) => run.phase1Out.get(i));
  }

  /** Test signatures, phase 2: each subset's phase-1 messages in, its phase-2 messages out. */
  private async check2(received: Map<string, Uint8Array>): Promise<ProtocolStep<KeyShare>> {
    const inputs = this.subsetInputs(received, shapes.sign1);
    const outs = new Map<number, Map<number, unknown>>();
    for (const [mask, { run }] of this.runs)
      outs.set(mask, await this.subsetStep(mask, () => run.phase2(inputs.get(mask) ?? [])));
    return this.sendSubsets(5, shapes.sign2, (_run, i, mask) => outs.get(mask)?.get(i));
  }

  private async check3(received: Map<string, Uint8Array>): Promise<ProtocolStep<KeyShare>> {
    const inputs = this.subsetInputs(received, shapes.sign2);
    for (const [mask, { run }] of this.runs)
      this.mine.set(mask, await this.subsetStep(mask, () => run.phase3(inputs.get(mask) ?? [])));
    return this.sendSubsets(6, check3, (_run, _i, mask) => this.mine.get(mask));
  }

  /** Phase 4 of every subset, and the confirmation with every subset's signature. */
  private async check4(received: Map<string, Uint8Array>): Promise<ProtocolStep<KeyShare>> {
    const inputs = this.subsetInputs(received, check3);
    const checks: Record<string, string> = {};
    for (const [mask, { subset, run }] of this.runs) {
      const own = this.mine.get(mask);
      assert(own !== undefined, 'phase 3 ran for every subset');
      const theirs = (inputs.get(mask) ?? []) as { x: string; u: string; w: string }[];
      if (theirs.some((b) => b.x !== own.x))
        throw new EngineAbort('keygen check', { description: `subset ${subset} disagrees on r` });
      // The engine sums every signer's broadcast: ours in its place among the others'.
      const all = subset.map((p) => {
        if (p === this.args.partyId) return { u: own.u, w: own.w };
        const at = subset.filter((q) => q !== this.args.partyId).indexOf(p);
        const b = theirs[at];
        assert(b !== undefined, 'a broadcast from every other signer');
        return { u: b.u, w: b.w };
      });
      if (uSumIsZero(all.map((b) => b.u)))
        throw new EngineAbort('keygen check', { description: `subset ${subset}: u sums to zero` });
      const { s } = await this.subsetStep(mask, () => run.phase4(all));
      checks[subset.join(',')] = own.x + s;
    }
    this.runs.clear();
    this.round = -1;
    const share = this.keyShare();
    const confirm: ProtocolMessage = {
      from: this.args.partyId,
      to: coordinatorRole,
      round: confirmRound,
      payload: {
        publicKey: this.publicKey,
        ethereumAddress: share.publicPackage['ethereumAddress'],
        chainCode: share.publicPackage['chainCode'],
        checks,
      },
    };
    return { kind: 'done', outgoing: [confirm], result: share };
  }

  private keyShare(): KeyShare {
    const address = ethereumAddress(hexToBytes(this.publicKey));
    return {
      scheme: 'ecdsa',
      walletId: this.args.walletId,
      partyId: this.args.partyId,
      threshold: this.args.threshold,
      parties: [...this.args.parties],
      publicPackage: {
        publicKey: this.publicKey,
        ethereumAddress: address,
        chainCode: this.chainCode(),
      },
      secretPackage: { party: bytesToHex(encodeShape(shapes.party, this.party)) },
      publicKey: this.publicKey,
    };
  }

  /** The BIP32 chain code every party's engine agreed on (hex): public, for child public keys. */
  private chainCode(): string {
    const data = (this.party as { derivation_data: { chain_code: number[] } }).derivation_data;
    return bytesToHex(Uint8Array.from(data.chain_code));
  }

  /** A subset's step; an engine abort names the subset (evidence, not blame). */
  private async subsetStep<T>(mask: number, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof EngineAbort)) throw error;
      const subset = this.runs.get(mask)?.subset ?? [];
      throw new EngineAbort('keygen check', { ...error.detail, subset });
    }
  }

  /** Each subset's messages from its other members, in the subset's order. */
  private subsetInputs(received: Map<string, Uint8Array>, shape: Shape): Map<number, unknown[]> {
    const byMask = new Map<number, Map<string, unknown>>();
    for (const [peer, bytes] of received) {
      const entries = decodeFrom(perSubset(shape), bytes, peer, 'test signing') as {
        subset: number;
        message: unknown;
      }[];
      for (const { subset, message } of entries) {
        const run = this.runs.get(subset);
        if (!run || !run.subset.includes(peer) || byMask.get(subset)?.has(peer))
          throw new PeerFault(peer, 'test signing message for an unexpected subset');
        if (shape !== check3)
          checkAddressed(message, indexOf(this.args.parties, peer), this.me, peer);
        const m = byMask.get(subset) ?? new Map<string, unknown>();
        m.set(peer, message);
        byMask.set(subset, m);
      }
    }
    const out = new Map<number, unknown[]>();
    for (const [mask, { subset }] of this.runs) {
      const others = subset.filter((p) => p !== this.args.partyId);
      out.set(
        mask,
        others.map((p) => {
          const m = byMask.get(mask)?.get(p);
          if (m === undefined) throw new PeerFault(p, `test signing message missing`);
          return m;
        }),
      );
    }
    return out;
  }

  /** One sealed message to each peer with the entries of every subset both are in. */
  private sendSubsets(
    round: number,
    shape: Shape,
    entry: (run: SigningRun, peerIndex: number, mask: number) => unknown,
  ): ProtocolStep<KeyShare> {
    return this.sendEach(round, (peer) => {
      const i = indexOf(this.args.parties, peer);
      const entries = [...this.runs]
        .filter(([, { subset }]) => subset.includes(peer))
        .map(([mask, { run }]) => ({ subset: mask, message: entry(run, i, mask) }));
      return encodeShape(perSubset(shape), entries);
    });
  }

  private sendEach(round: number, body: (peer: string) => Uint8Array): ProtocolStep<KeyShare> {
    const outgoing = this.peers.map((to) => ({
      from: this.args.partyId,
      to: coordinatorRole,
      round,
      payload: { to, sealed: this.args.sealer.seal(to, tagged(round, body(to))) },
    }));
    return { kind: 'continue', outgoing };
  }

  wipe(): void {
    for (const { run } of this.runs.values()) run.wipe();
    this.runs.clear();
    this.keep = {};
    this.party = undefined;
    this.round = -1;
  }
}

/**
 * The coordinator's key-generation role: relays every round's sealed messages once all are in,
 * then checks the confirmations: one group key and address, and a verifying test signature by
 * every t-subset. A failing subset aborts the key generation; a party is blamed only if every
 * subset it is in failed and some subset without it succeeded (the engine's word is not used).
 */
export class EcdsaKeygenCoordinator implements ProtocolRole<KeygenResult> {
  round = 0;
  private readonly got = new Map<string, Map<string, string>>();
  private readonly confirmations = new Map<string, Payload>();

  constructor(private readonly args: { parties: string[]; threshold: number; walletId?: string }) {}

  start(): ProtocolStep<KeygenResult> {
    this.round = 1;
    return { kind: 'continue', outgoing: [] };
  }

  handle(message: ProtocolMessage): ProtocolStep<KeygenResult> {
    if (!this.args.parties.includes(message.from))
      return abortStep(new PeerFault(message.from, 'not a keygen participant'), undefined);
    if (message.round !== this.round) return { kind: 'continue', outgoing: [] };
    try {
      if (this.round === confirmRound) return this.onConfirm(message);
      const to = message.payload['to'];
      if (typeof to !== 'string' || to === message.from || !this.args.parties.includes(to))
        throw new PeerFault(message.from, 'message to an unexpected recipient');
      const sealed = stringField(message.payload, 'sealed', message.from, sealedHexCharsMax);
      const mine = this.got.get(message.from) ?? new Map<string, string>();
      if (mine.has(to)) throw new PeerFault(message.from, 'two messages to one recipient');
      mine.set(to, sealed);
      this.got.set(message.from, mine);
      const n = this.args.parties.length;
      const count = [...this.got.values()].reduce((sum, m) => sum + m.size, 0);
      if (count < n * (n - 1)) return { kind: 'continue', outgoing: [] };
      const outgoing: ProtocolMessage[] = [];
      for (const [from, boxes] of this.got)
        for (const [recipient, box] of boxes)
          outgoing.push({
            from: coordinatorRole,
            to: recipient,
            round: this.round + 1,
            payload: { from, sealed: box },
          });
      this.got.clear();
      this.round += 1;
      return { kind: 'continue', outgoing };
    } catch (error) {
      return abortStep(error, message.from);
    }
  }

  private onConfirm(message: ProtocolMessage): ProtocolStep<KeygenResult> {
    stringField(message.payload, 'publicKey', message.from, 66);
    recordField(message.payload, 'checks', message.from);
    this.confirmations.set(message.from, message.payload);
    if (this.confirmations.size < this.args.parties.length)
      return { kind: 'continue', outgoing: [] };
    this.round = -1;
    const keys = new Set(
      [...this.confirmations.values()].map(
        (p) => `${String(p['publicKey'])}|${String(p['chainCode'])}`,
      ),
    );
    if (keys.size !== 1)
      return {
        kind: 'abort',
        outgoing: [],
        abort: { reason: 'parties derived different group keys', blamed: [], evidence: {} },
      };
    const [first] = [...this.confirmations.values()];
    const publicKey = String(first?.['publicKey']);
    const chainCode = first?.['chainCode'];
    if (typeof chainCode !== 'string' || !/^[0-9a-f]{64}$/.test(chainCode))
      return {
        kind: 'abort',
        outgoing: [],
        abort: { reason: 'no chain code in the confirmations', blamed: [], evidence: {} },
      };
    let pk: Uint8Array;
    try {
      pk = hexToBytes(publicKey);
      ethereumAddress(pk);
    } catch {
      return {
        kind: 'abort',
        outgoing: [],
        abort: { reason: 'the group key is not a point', blamed: [], evidence: { publicKey } },
      };
    }
    const failing = this.failingSubsets(pk);
    if (failing.length > 0) {
      // Nobody is blamed: up to t - 1 colluding parties can keep one subset passing and spoil
      // every other one they are in, which would name an honest party (security review,
      // finding 3). The failing subsets are the evidence.
      return {
        kind: 'abort',
        outgoing: [],
        abort: {
          reason: `test signature failed for ${failing.map((s) => `{${s.join(',')}}`).join(' ')}`,
          blamed: [],
          evidence: { failingSubsets: failing },
        },
      };
    }
    const address = ethereumAddress(pk);
    return {
      kind: 'done',
      outgoing: [],
      result: { publicKey, publicPackage: { publicKey, ethereumAddress: address, chainCode } },
    };
  }

  /** The subsets whose members did not all report one signature that verifies. */
  private failingSubsets(pk: Uint8Array): string[][] {
    const walletId = this.args.walletId ?? '';
    return subsetsOf(this.args.parties, this.args.threshold).filter((subset) => {
      const key = subset.join(',');
      const sigs = new Set(
        subset.map((p) => {
          const checks = this.confirmations.get(p)?.['checks'] as Record<string, unknown>;
          return checks[key];
        }),
      );
      const [sig] = [...sigs];
      if (sigs.size !== 1 || typeof sig !== 'string' || !/^[0-9a-f]{128}$/.test(sig)) return true;
      return !verifyEcdsa(hexToBytes(sig), keygenCheckDigest(walletId, subset), pk);
    });
  }

  wipe(): void {
    this.round = -1;
  }
}
