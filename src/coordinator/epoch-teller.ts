/**
 * Telling the parties how a lifecycle operation ended (docs/key-lifecycle.md, phase 4), again
 * and again until each has acknowledged: `commit` after a flip (the new parties promote their
 * staged share and sign that they did), then, once every new party has, `commit` with that
 * evidence to the old epoch's parties that are not of the new one (they erase their share);
 * `abandon` after a rollback (the new parties erase their staged share). Each acknowledgement
 * is recorded in the operation's record, so another replica (or this one, restarted) goes on
 * from there.
 */
import type { Env, Log } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import type { Payload } from '../protocol/engine.ts';
import type { OperationRecord, WalletRecord } from '../store/store.ts';
import { parseCertificate, type PartyCertificate } from '../transport/certificate.ts';
import {
  buildEpoch,
  epochAckRound,
  validateEpochAck,
  validateProtocol,
  validateRefuse,
  type EpochEvidence,
  type Envelope,
} from '../transport/wire.ts';
import type { PartyRegistry } from './party-registry.ts';

/** What the teller needs from the lifecycle. */
export interface EpochTellerDeps {
  env: Env;
  log: Log;
  registry: PartyRegistry;
  /** Rewrites the wallet's operation `operationId` (if it still is its current one) by CAS. */
  writeOp(
    walletId: string,
    operationId: string,
    change: (op: OperationRecord) => OperationRecord,
  ): Promise<WalletRecord>;
  /** The wallet as stored now (its operation's acknowledgements, maybe heard elsewhere). */
  readWallet(walletId: string): Promise<WalletRecord | undefined>;
}

/** One operation's end being told. */
interface Telling {
  walletId: string;
  op: OperationRecord;
  action: 'commit' | 'abandon';
  /** Parties that have not acknowledged yet. */
  pending: Set<string>;
  /** The new parties' promotions (signature and certificate), as they come in. */
  promotions: Map<string, { signature: string; certificate: PartyCertificate }>;
  untilMs: number;
  cancel: () => void;
}

const sessionOf = (t: Telling) => `${t.op.operationId}.${t.action}`;

/** Tells operations' ends, by operation id. */
export class EpochTeller {
  private readonly tellings = new Map<string, Telling>();
  private stopped = false;

  constructor(private readonly deps: EpochTellerDeps) {}

  /** True if this replica tells `operationId`'s end now. */
  telling(operationId: string): boolean {
    return this.tellings.has(operationId);
  }

  /** Starts telling `op`'s end to the parties of `op.retirePending`. */
  tell(walletId: string, op: OperationRecord, action: 'commit' | 'abandon'): void {
    if (this.stopped) return;
    const { env, log } = this.deps;
    if (!this.tellings.has(op.operationId) && this.tellings.size >= limits.lifecycleTellingsMax) {
      // The record keeps who is left: the sweep tells them once there is room.
      log.warn({ walletId, operationId: op.operationId }, 'too many operation ends being told');
      return;
    }
    const t: Telling = {
      walletId,
      op,
      action,
      pending: new Set(op.retirePending ?? op.parties),
      promotions: promotionsOf(op),
      untilMs: (op.endedMs ?? env.nowMs()) + limits.lifecycleRetireMsMax,
      cancel: () => {},
    };
    this.tellings.get(op.operationId)?.cancel();
    this.tellings.set(op.operationId, t);
    this.again(t);
  }

  private again(t: Telling): void {
    const { env, registry } = this.deps;
    if (this.stopped || t.pending.size === 0 || env.nowMs() > t.untilMs) {
      this.tellings.delete(t.op.operationId);
      return;
    }
    this.refresh(t);
    const at = { sessionId: sessionOf(t), attempt: 1, token: 1 };
    const { walletId, op, action } = t;
    const body = { walletId, operationId: op.operationId, epoch: op.toEpoch, action };
    const evidence = this.evidence(t);
    for (const p of t.pending) {
      const retired = action === 'commit' && !op.parties.includes(p);
      // A retired party is told only with the proof it needs; until then, nothing.
      if (retired && evidence === undefined) continue;
      registry.send(p, buildEpoch(at, retired && evidence ? { ...body, evidence } : body));
    }
    t.cancel = env.setTimer(limits.lifecycleRetireResendMs, () => this.again(t));
  }

  /** Drops from `pending` what the record says was acknowledged (maybe at another replica). */
  private refresh(t: Telling): void {
    void this.deps.readWallet(t.walletId).then(
      (w) => {
        const op = w?.operation?.operationId === t.op.operationId ? w.operation : undefined;
        if (op?.retirePending === undefined) return;
        for (const p of [...t.pending]) if (!op.retirePending.includes(p)) t.pending.delete(p);
        for (const [p, v] of promotionsOf(op)) if (!t.promotions.has(p)) t.promotions.set(p, v);
      },
      () => {},
    );
  }

  /**
   * The new parties' promotions, once there are enough for a retired party to erase against:
   * the new threshold (the new epoch can sign) and the old one (the dealers were that many).
   */
  private evidence(t: Telling): EpochEvidence | undefined {
    const { op } = t;
    if (t.promotions.size < Math.max(op.threshold, op.dealers.length)) return undefined;
    const entries = [...t.promotions];
    return {
      threshold: op.threshold,
      parties: op.parties,
      publicKey: op.publicKey ?? '',
      signatures: Object.fromEntries(entries.map(([p, v]) => [p, v.signature])),
      certificates: Object.fromEntries(entries.map(([p, v]) => [p, v.certificate])),
    };
  }

  /** A party's answer to an end being told (acknowledgement or refusal). */
  onEnvelope(partyId: string, e: Envelope): void {
    // Every party envelope passes here (signing's too): one map lookup, by the session's id.
    const t = this.tellings.get(e.sessionId.slice(0, e.sessionId.lastIndexOf('.')));
    if (t === undefined || e.sessionId !== sessionOf(t) || !t.pending.has(partyId)) return;
    if (e.kind === 'refuse') {
      // A party that will not erase (no evidence it accepts) is not asked again and again.
      const refusal = validateRefuse(e.body);
      this.acknowledged(t, partyId, refusal.ok ? `refused ${refusal.value.code}` : 'refused');
      return;
    }
    if (e.kind !== 'protocol' || e.round !== epochAckRound) return;
    const payload = validateProtocol(e.body);
    const ack = payload.ok ? validateEpochAck(payload.value) : undefined;
    if (ack?.ok !== true || ack.value.epoch !== t.op.toEpoch) return;
    const certificate = this.deps.registry.certificatesOf([partyId])[partyId];
    if (ack.value.promotion !== undefined && certificate !== undefined)
      t.promotions.set(partyId, { signature: ack.value.promotion, certificate });
    this.acknowledged(t, partyId, ack.value.outcome);
  }

  /** Records the acknowledgement; the first complete evidence is sent on at once. */
  private acknowledged(t: Telling, partyId: string, outcome: string): void {
    const hadEvidence = this.evidence(t) !== undefined;
    t.pending.delete(partyId);
    const { walletId, op } = t;
    const done = t.pending.size === 0;
    const promotions = Object.fromEntries(
      [...t.promotions].map(([p, v]) => [
        p,
        { signature: v.signature, certificate: { ...v.certificate } },
      ]),
    );
    void this.deps
      .writeOp(walletId, op.operationId, (o) => ({
        ...o,
        progress: { ...o.progress, [partyId]: outcome },
        retirePending: o.retirePending?.filter((p) => p !== partyId) ?? [...t.pending],
        promotions,
        ...(done ? { phase: 'ended' as const } : {}),
      }))
      .catch((error: unknown) =>
        this.deps.log.warn({ walletId, err: String(error) }, 'could not record an ended operation'),
      );
    if (done) {
      t.cancel();
      this.tellings.delete(op.operationId);
    } else if (!hadEvidence && this.evidence(t) !== undefined) {
      t.cancel();
      this.again(t);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.tellings.values()) t.cancel();
    this.tellings.clear();
  }
}

/** The promotions an operation's record kept, each certificate checked again as it is read. */
function promotionsOf(
  op: OperationRecord,
): Map<string, { signature: string; certificate: PartyCertificate }> {
  const out = new Map<string, { signature: string; certificate: PartyCertificate }>();
  for (const [p, raw] of Object.entries(op.promotions ?? {})) {
    const entry: Payload = raw;
    const signature = entry['signature'];
    const certificate = parseCertificate(entry['certificate']);
    if (typeof signature === 'string' && typeof certificate !== 'string')
      out.set(p, { signature, certificate });
  }
  return out;
}
