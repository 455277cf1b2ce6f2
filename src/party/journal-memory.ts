/**
 * In-memory {@link PartyJournal} for the simulator: the same contract as the SQLite journal,
 * including its crash semantics. The object models the durable file: a simulated crash keeps
 * it, and {@link MemoryJournal.reopen} models opening it again in a new process, which turns
 * every `issued` nonce into `void` (the nonces themselves died with the old process).
 *
 * It also keeps an append-only operation log (bounded) so a checker can replay what the party
 * saw and did, in order, across restarts (invariants I2 and I3).
 */
import { assert } from '../core/assert.ts';
import { limits } from '../core/limits.ts';
import type { IntentLockResult, NonceEntry, PartyJournal } from './journal.ts';

/** One journal call as the checker sees it (no secrets: `commitment` is a secret's public id). */
export type JournalOp =
  | { op: 'open'; atMs: number; voided: number }
  | { op: 'observe'; atMs: number; sessionId: string; token: number; ok: boolean }
  | {
      op: 'record';
      atMs: number;
      sessionId: string;
      attempt: number;
      token: number;
      commitment: string;
      ok: boolean;
    }
  | {
      op: 'consume';
      atMs: number;
      sessionId: string;
      token: number;
      commitment: string;
      ok: boolean;
    }
  | { op: 'discard'; atMs: number; sessionId: string; count: number };

interface TokenRow {
  token: number;
  updatedMs: number;
}

/** Memory implementation of {@link PartyJournal}. */
export class MemoryJournal implements PartyJournal {
  private readonly meta = new Map<string, string>();
  private readonly shares = new Map<string, string>();
  private readonly intents = new Map<string, { messageHash: string; sessionId: string }>();
  private readonly tokens = new Map<string, TokenRow>();
  /** Insertion order is issue order (like `ORDER BY issued_ms, rowid`). */
  private readonly nonceRows = new Map<string, NonceEntry>();
  private readonly opLog: JournalOp[] = [];
  private closed = false;

  /** Opens a fresh journal (first start of a party). */
  constructor(nowMs: number) {
    this.log({ op: 'open', atMs: nowMs, voided: 0 });
  }

  /**
   * Opens the same durable journal in a new process: every `issued` nonce becomes `void`, as in
   * `SqliteJournal`'s constructor. Everything else (locks, tokens, shares, meta) is kept.
   */
  reopen(nowMs: number): void {
    let voided = 0;
    for (const row of this.nonceRows.values()) {
      if (row.state !== 'issued') continue;
      row.state = 'void';
      row.closedMs = nowMs;
      voided += 1;
    }
    this.closed = false;
    this.log({ op: 'open', atMs: nowMs, voided });
  }

  /** The operation log, oldest first (a copy). */
  ops(): JournalOp[] {
    return this.opLog.map((o) => ({ ...o }));
  }

  private log(entry: JournalOp): void {
    assert(this.opLog.length < limits.simJournalOpsMax, 'journal op log within bound');
    this.opLog.push(entry);
  }

  private check(): void {
    assert(!this.closed, 'journal used after close');
  }

  lockIntent(
    walletId: string,
    intentKey: string,
    messageHash: string,
    sessionId: string,
  ): IntentLockResult {
    this.check();
    const key = `${walletId}\u0000${intentKey}`;
    const existing = this.intents.get(key);
    if (!existing) {
      this.intents.set(key, { messageHash, sessionId });
      return { ok: true };
    }
    return existing.messageHash === messageHash
      ? { ok: true }
      : { ok: false, lockedMessageHash: existing.messageHash };
  }

  observeToken(sessionId: string, token: number, nowMs: number): boolean {
    this.check();
    const current = this.highestToken(sessionId);
    const ok = token >= current;
    if (token > current) this.tokens.set(sessionId, { token, updatedMs: nowMs });
    this.log({ op: 'observe', atMs: nowMs, sessionId, token, ok });
    return ok;
  }

  highestToken(sessionId: string): number {
    this.check();
    return this.tokens.get(sessionId)?.token ?? 0;
  }

  recordNonce(entry: Omit<NonceEntry, 'state' | 'closedMs'>): boolean {
    this.check();
    const ok = !this.nonceRows.has(entry.commitment);
    if (ok) this.nonceRows.set(entry.commitment, { ...entry, state: 'issued' });
    this.log({
      op: 'record',
      atMs: entry.issuedMs,
      sessionId: entry.sessionId,
      attempt: entry.attempt,
      token: entry.token,
      commitment: entry.commitment,
      ok,
    });
    return ok;
  }

  consumeNonce(secretId: string, nowMs: number): boolean {
    this.check();
    const row = this.nonceRows.get(secretId);
    const ok = row?.state === 'issued';
    if (row && ok) {
      row.state = 'consumed';
      row.closedMs = nowMs;
    }
    this.log({
      op: 'consume',
      atMs: nowMs,
      sessionId: row?.sessionId ?? '',
      token: row?.token ?? -1,
      commitment: secretId,
      ok,
    });
    return ok;
  }

  discardNonces(sessionId: string, nowMs: number, attempt?: number): number {
    this.check();
    let count = 0;
    for (const row of this.nonceRows.values()) {
      if (row.sessionId !== sessionId || row.state !== 'issued') continue;
      if (attempt !== undefined && row.attempt !== attempt) continue;
      row.state = 'discarded';
      row.closedMs = nowMs;
      count += 1;
    }
    if (count > 0) this.log({ op: 'discard', atMs: nowMs, sessionId, count });
    return count;
  }

  nonces(): NonceEntry[] {
    return [...this.nonceRows.values()].map((r) => ({ ...r }));
  }

  countIssued(): number {
    let n = 0;
    for (const row of this.nonceRows.values()) if (row.state === 'issued') n += 1;
    return n;
  }

  putSealedShare(walletId: string, sealed: string): void {
    this.check();
    this.shares.set(walletId, sealed);
  }

  getSealedShare(walletId: string): string | undefined {
    this.check();
    return this.shares.get(walletId);
  }

  deleteSealedShare(walletId: string): boolean {
    this.check();
    return this.shares.delete(walletId);
  }

  getMeta(key: string): string | undefined {
    this.check();
    return this.meta.get(key);
  }

  setMeta(key: string, value: string): void {
    this.check();
    this.meta.set(key, value);
  }

  expireSessionsBefore(beforeMs: number): number {
    this.check();
    let n = 0;
    for (const [sessionId, row] of [...this.tokens]) {
      if (row.updatedMs < beforeMs) {
        this.tokens.delete(sessionId);
        n += 1;
      }
    }
    return n;
  }

  /**
   * Memory writes are durable the moment they happen here (the simulator keeps the journal
   * across a crash), so this only runs `fn`; having it puts simulated parties on the same path
   * as real ones, which hold every message of a frame until its commit returns.
   */
  atomically(fn: () => void): void {
    fn();
  }

  /** Closes this handle; {@link reopen} opens it again (a restarted process). */
  close(): void {
    this.closed = true;
  }
}
