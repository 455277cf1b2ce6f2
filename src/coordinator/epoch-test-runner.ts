/**
 * The test signature of a refresh or reshare (docs/key-lifecycle.md, phase 3): a threshold of
 * the new epoch's parties sign the operation's fixed test message with their staged shares,
 * and the result must verify under the wallet's unchanged group key before the store flips.
 * One attempt (token 1) under its own session id; any refusal, blame or deadline fails it.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import type {
  Payload,
  ProtocolRole,
  AggregateResult,
  SignatureEngine,
} from '../protocol/engine.ts';
import { coordinatorRole } from '../protocol/engine.ts';
import {
  buildDiscard,
  buildEpochTest,
  buildProtocol,
  epochTestMessage,
  validateProtocol,
  refusalText,
  type Addressing,
  type Envelope,
} from '../transport/wire.ts';
import type { PartyRegistry } from './party-registry.ts';

/** What the test signature signs with, and how long it may take. */
export interface EpochTestArgs {
  runId: string;
  walletId: string;
  operationId: string;
  epoch: number;
  signers: string[];
  /** The new epoch's public package and the wallet's group key (wire format, hex). */
  publicPackage: Payload;
  publicKey: string;
  deadlineMs: number;
}

/** One test signature; `result` settles once. */
export class EpochTestRunner {
  readonly result: Promise<void>;
  private settle!: { resolve: () => void; reject: (e: QuorateError) => void };
  private readonly aggregator: ProtocolRole<AggregateResult>;
  private readonly message: Uint8Array;
  private done = false;
  private cancelTimer: () => void = () => {};

  constructor(
    private readonly env: Env,
    private readonly registry: PartyRegistry,
    private readonly engine: SignatureEngine,
    readonly args: EpochTestArgs,
  ) {
    this.message = epochTestMessage(args.walletId, args.operationId, args.epoch);
    this.aggregator = engine.aggregator({
      publicPackage: args.publicPackage,
      message: this.message,
      signers: args.signers,
    });
    this.result = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  private get addressing(): Addressing {
    return { sessionId: this.args.runId, attempt: 1, token: 1 };
  }

  start(): void {
    this.aggregator.start();
    this.cancelTimer = this.env.setTimer(this.args.deadlineMs, () =>
      this.fail('test signature deadline reached', []),
    );
    const { walletId, operationId, epoch, signers } = this.args;
    const start = buildEpochTest(this.addressing, { walletId, operationId, epoch, signers });
    const unreachable = signers.filter((p) => !this.registry.send(p, start));
    if (unreachable.length > 0) this.fail('party not connected', unreachable);
  }

  onEnvelope(partyId: string, e: Envelope): void {
    if (this.done || e.attempt !== 1 || e.token !== 1 || !this.args.signers.includes(partyId))
      return;
    if (e.kind === 'refuse') {
      this.fail(`party refused the test signature: ${refusalText(e.body)}`, [partyId]);
      return;
    }
    if (e.kind !== 'protocol') return;
    const payload = validateProtocol(e.body);
    if (!payload.ok) {
      this.fail(`party sent an invalid payload: ${payload.reason}`, [partyId]);
      return;
    }
    const step = this.aggregator.handle({
      from: partyId,
      to: coordinatorRole,
      round: e.round,
      payload: payload.value,
    });
    if (step.kind === 'abort') {
      this.fail(step.abort.reason, step.abort.blamed);
      return;
    }
    for (const out of step.outgoing)
      this.registry.send(out.to, buildProtocol(this.addressing, out.round, out.payload));
    if (step.kind === 'done') this.onSignature(step.result.signature);
  }

  /** I4 for the new epoch: the signature verifies under the wallet's unchanged key. */
  private onSignature(signature: string): void {
    const ok = this.engine.verify(
      hexToBytes(signature),
      this.message,
      hexToBytes(this.args.publicKey),
    );
    if (!ok) {
      this.fail('the test signature does not verify under the wallet key', []);
      return;
    }
    this.finish();
    this.settle.resolve();
  }

  onDisconnect(partyId: string): void {
    if (this.args.signers.includes(partyId)) this.fail('party disconnected', [partyId]);
  }

  private fail(reason: string, blamed: string[]): void {
    if (this.done) return;
    for (const p of this.args.signers) this.registry.send(p, buildDiscard(this.addressing, reason));
    this.finish();
    this.settle.reject(
      new QuorateError('QUORATE_E_LIFECYCLE_FAILED', `test signature failed: ${reason}`, {
        phase: 'testing',
        blamed,
      }),
    );
  }

  private finish(): void {
    this.done = true;
    this.cancelTimer();
    this.aggregator.wipe();
  }
}
