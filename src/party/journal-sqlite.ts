/**
 * SQLite {@link PartyJournal}: WAL + `synchronous=FULL`, one transaction per call, or one for
 * all the calls of {@link SqliteJournal.atomically} (the runtime handles each frame in one).
 *
 * A frame's transaction whose only writes record the end of a memory-only secret (consumed or
 * discarded) and the op log commits without the sync to disk (`synchronous=NORMAL` for that
 * commit; see {@link PartyJournal.atomically}). Everything else syncs before it returns.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PreparedStatements } from '../store/prepared-statements.ts';
import type { JournalOp } from './journal-memory.ts';
import type { IntentLockResult, NonceEntry, PartyJournal } from './journal.ts';

/**
 * The op log (the checker's view of what the party saw and did, in order, across restarts;
 * invariants I2 and I3) keeps the last `opLogRowsMax` operations. Pruning runs every
 * `opLogPruneEvery` appends so the bound costs one DELETE per thousand operations.
 */
export const opLogRowsMax = 100_000;
const opLogPruneEvery = 1_000;

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS key_shares (wallet_id TEXT PRIMARY KEY, sealed TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intent_locks (
  wallet_id TEXT NOT NULL, intent_key TEXT NOT NULL, message_hash TEXT NOT NULL,
  session_id TEXT NOT NULL, PRIMARY KEY (wallet_id, intent_key));
CREATE TABLE IF NOT EXISTS session_tokens (
  session_id TEXT PRIMARY KEY, token INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (
  commitment TEXT PRIMARY KEY, session_id TEXT NOT NULL, attempt INTEGER NOT NULL,
  token INTEGER NOT NULL, state TEXT NOT NULL, issued_ms INTEGER NOT NULL, closed_ms INTEGER);
CREATE INDEX IF NOT EXISTS nonces_session ON nonces (session_id, state);
CREATE INDEX IF NOT EXISTS nonces_state ON nonces (state);
CREATE TABLE IF NOT EXISTS op_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
`;

interface NonceRow {
  commitment: string;
  session_id: string;
  attempt: number;
  token: number;
  state: NonceEntry['state'];
  issued_ms: number;
  closed_ms: number | null;
}

/** Opens the journal; nonces left `issued` by a previous run become `void`. */
export class SqliteJournal implements PartyJournal {
  private readonly db: Database.Database;
  private appendsSincePrune = 0;
  private readonly statements: PreparedStatements;
  /**
   * Set by every write that must reach the disk before a message derived from it leaves (a
   * raised token, a taken intent lock, a recorded nonce, a share, a meta value); reset when
   * {@link atomically} begins. Consumed and discarded nonces and the op log do not set it.
   */
  private mustSync = false;

  constructor(path: string, nowMs: number) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.statements = new PreparedStatements(this.db);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    // An erased (retired or abandoned) key share is overwritten in the file, not just unlinked.
    this.db.pragma('secure_delete = ON');
    this.db.exec(schema);
    // The in-memory nonces of the previous process are gone: those entries can never be used.
    this.db.transaction(() => {
      const voided = this.sql(
        "UPDATE nonces SET state = 'void', closed_ms = ? WHERE state = 'issued'",
      ).run(nowMs).changes;
      this.appendOp({ op: 'open', atMs: nowMs, voided });
    })();
  }

  private sql(text: string): Database.Statement {
    return this.statements.get(text);
  }

  atomically(fn: () => void): void {
    // Already inside one (a nested call): the outer commit covers this one.
    if (this.db.inTransaction) return fn();
    // SQLite fixes a commit's safety level before the transaction begins, so the frame's
    // transaction is committed to the WAL without a sync, and a frame that wrote something that
    // must be durable syncs it with a second, one-row commit at `FULL`: a sync of the WAL makes
    // every frame before it durable too (the WAL is recovered as a prefix).
    this.db.pragma('synchronous = NORMAL');
    let failure: { error: unknown } | undefined;
    try {
      this.db.exec('BEGIN IMMEDIATE');
      this.mustSync = false;
      try {
        fn();
      } catch (error) {
        // Committed all the same: fn's completed writes (an observed token) must stay.
        failure = { error };
      }
      this.db.exec('COMMIT');
    } catch (error) {
      this.abandon();
      throw error;
    } finally {
      if (this.db.open) this.db.pragma('synchronous = FULL');
    }
    if (this.mustSync) {
      // A failed sync throws, and the caller sends nothing derived from this frame. The frame is
      // committed but maybe not on disk, and a later sync may not save it (a failed fsync can
      // drop the dirty pages): the journal closes, so the party refuses everything after it.
      try {
        this.sql("INSERT OR REPLACE INTO meta (key, value) VALUES ('journal-syncs', ?)").run(
          String(this.syncs + 1),
        );
      } catch (error) {
        this.db.close();
        throw error;
      }
      this.syncs += 1;
    } else {
      this.lazyCommits += 1;
    }
    if (failure !== undefined) throw failure.error;
  }

  /** Frames {@link atomically} committed without a sync to disk (the tests' view of the rule). */
  lazyCommits = 0;
  /** Frames {@link atomically} synced to disk. */
  syncs = 0;

  /**
   * After a failed commit: roll back, and if that fails too (the transaction would stay open,
   * and every later `atomically` would nest in it and never commit) close the journal, so that
   * every later call throws and the party refuses everything rather than acting on writes that
   * never reach the disk.
   */
  private abandon(): void {
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } catch {
      // Closed below.
    }
    if (this.db.inTransaction) this.db.close();
  }

  /** Appends to the bounded op log; called inside the transaction of the change it records. */
  private appendOp(entry: JournalOp): void {
    this.sql('INSERT INTO op_log (body) VALUES (?)').run(JSON.stringify(entry));
    this.appendsSincePrune += 1;
    if (this.appendsSincePrune < opLogPruneEvery) return;
    this.appendsSincePrune = 0;
    this.sql('DELETE FROM op_log WHERE seq <= (SELECT max(seq) FROM op_log) - ?').run(opLogRowsMax);
  }

  /** The op log, oldest first (at most the last {@link opLogRowsMax} operations). */
  ops(): JournalOp[] {
    return readOpLog(this.db);
  }

  lockIntent(
    walletId: string,
    intentKey: string,
    messageHash: string,
    sessionId: string,
  ): IntentLockResult {
    // Read first: a lock already taken (every later message of the session) writes nothing.
    const row = this.sql(
      'SELECT message_hash FROM intent_locks WHERE wallet_id = ? AND intent_key = ?',
    ).get(walletId, intentKey) as { message_hash: string } | undefined;
    if (row === undefined) {
      this.mustSync = true;
      this.sql(
        'INSERT INTO intent_locks (wallet_id, intent_key, message_hash, session_id) VALUES (?, ?, ?, ?)',
      ).run(walletId, intentKey, messageHash, sessionId);
      return { ok: true };
    }
    return row.message_hash === messageHash
      ? { ok: true }
      : { ok: false, lockedMessageHash: row.message_hash };
  }

  observeToken(sessionId: string, token: number, nowMs: number): boolean {
    const txn = this.db.transaction(() => {
      const current = this.highestToken(sessionId);
      // The token already on record: nothing changes, so nothing is written or synced (every
      // message of an attempt carries its token; only the first one raises it).
      if (token === current) return true;
      this.appendOp({ op: 'observe', atMs: nowMs, sessionId, token, ok: token >= current });
      if (token < current) return false;
      if (token > current) {
        this.mustSync = true;
        this.sql(
          'INSERT INTO session_tokens (session_id, token, updated_ms) VALUES (?, ?, ?) ON CONFLICT(session_id) DO UPDATE SET token = excluded.token, updated_ms = excluded.updated_ms',
        ).run(sessionId, token, nowMs);
      }
      return true;
    });
    return txn.immediate();
  }

  highestToken(sessionId: string): number {
    const row = this.sql('SELECT token FROM session_tokens WHERE session_id = ?').get(sessionId) as
      { token: number } | undefined;
    return row?.token ?? 0;
  }

  recordNonce(entry: Omit<NonceEntry, 'state' | 'closedMs'>): boolean {
    return this.db.transaction(() => {
      this.mustSync = true;
      const info = this.sql(
        "INSERT OR IGNORE INTO nonces (commitment, session_id, attempt, token, state, issued_ms) VALUES (?, ?, ?, ?, 'issued', ?)",
      ).run(entry.commitment, entry.sessionId, entry.attempt, entry.token, entry.issuedMs);
      const ok = info.changes === 1;
      this.appendOp({
        op: 'record',
        atMs: entry.issuedMs,
        sessionId: entry.sessionId,
        attempt: entry.attempt,
        token: entry.token,
        commitment: entry.commitment,
        ok,
      });
      return ok;
    })();
  }

  consumeNonce(secretId: string, nowMs: number): boolean {
    return this.db
      .transaction(() => {
        const row = this.sql('SELECT session_id, token FROM nonces WHERE commitment = ?').get(
          secretId,
        ) as { session_id: string; token: number } | undefined;
        const info = this.sql(
          "UPDATE nonces SET state = 'consumed', closed_ms = ? WHERE commitment = ? AND state = 'issued'",
        ).run(nowMs, secretId);
        const ok = info.changes === 1;
        this.appendOp({
          op: 'consume',
          atMs: nowMs,
          sessionId: row?.session_id ?? '',
          token: row?.token ?? -1,
          commitment: secretId,
          ok,
        });
        return ok;
      })
      .immediate();
  }

  discardNonces(sessionId: string, nowMs: number, attempt?: number): number {
    return this.db.transaction(() => {
      const count = this.discardRows(sessionId, nowMs, attempt);
      // Nothing held (a repeated discard, or one for a session this party never joined): no
      // write, so no sync to disk; the op log records what changed.
      if (count > 0) this.appendOp({ op: 'discard', atMs: nowMs, sessionId, count });
      return count;
    })();
  }

  private discardRows(sessionId: string, nowMs: number, attempt?: number): number {
    const info =
      attempt === undefined
        ? this.sql(
            "UPDATE nonces SET state = 'discarded', closed_ms = ? WHERE session_id = ? AND state = 'issued'",
          ).run(nowMs, sessionId)
        : this.sql(
            "UPDATE nonces SET state = 'discarded', closed_ms = ? WHERE session_id = ? AND attempt = ? AND state = 'issued'",
          ).run(nowMs, sessionId, attempt);
    return info.changes;
  }

  nonces(): NonceEntry[] {
    const rows = this.sql('SELECT * FROM nonces ORDER BY issued_ms, rowid').all() as NonceRow[];
    return rows.map(nonceFromRow);
  }

  countIssued(): number {
    const row = this.sql("SELECT count(*) AS n FROM nonces WHERE state = 'issued'").get() as {
      n: number;
    };
    return row.n;
  }

  putSealedShare(walletId: string, sealed: string): void {
    this.mustSync = true;
    this.sql('INSERT OR REPLACE INTO key_shares (wallet_id, sealed) VALUES (?, ?)').run(
      walletId,
      sealed,
    );
  }

  deleteSealedShare(walletId: string): boolean {
    this.mustSync = true;
    return this.sql('DELETE FROM key_shares WHERE wallet_id = ?').run(walletId).changes === 1;
  }

  getSealedShare(walletId: string): string | undefined {
    const row = this.sql('SELECT sealed FROM key_shares WHERE wallet_id = ?').get(walletId) as
      { sealed: string } | undefined;
    return row?.sealed;
  }

  getMeta(key: string): string | undefined {
    const row = this.sql('SELECT value FROM meta WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.mustSync = true;
    this.sql('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value);
  }

  expireSessionsBefore(beforeMs: number): number {
    return this.sql('DELETE FROM session_tokens WHERE updated_ms < ?').run(beforeMs).changes;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Reads the op log of an open database, oldest first. */
function readOpLog(db: Database.Database): JournalOp[] {
  const rows = db.prepare('SELECT body FROM op_log ORDER BY seq').all() as { body: string }[];
  return rows.map((r) => JSON.parse(r.body) as JournalOp);
}

/**
 * Reads a party journal file without opening it for writing (the chaos harness, after the
 * run): its nonce ledger and op log. A journal written before the op log existed has none.
 */
export function readJournalFile(path: string): { nonces: NonceEntry[]; ops: JournalOp[] } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT * FROM nonces ORDER BY issued_ms, rowid').all() as NonceRow[];
    const hasLog =
      db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'op_log'")
        .get() !== undefined;
    return { nonces: rows.map(nonceFromRow), ops: hasLog ? readOpLog(db) : [] };
  } finally {
    db.close();
  }
}

function nonceFromRow(r: NonceRow): NonceEntry {
  return {
    commitment: r.commitment,
    sessionId: r.session_id,
    attempt: r.attempt,
    token: r.token,
    state: r.state,
    issuedMs: r.issued_ms,
    ...(r.closed_ms === null ? {} : { closedMs: r.closed_ms }),
  };
}

/**
 * A read-only view of a live party's journal file, for an observer outside the party process
 * (the chaos harness checks I6 from it). The schema stays this module's business.
 */
export class JournalFileReader {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path, { readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 1000');
  }

  /** The op-log sequence number of the last time a party process opened the journal (0: never). */
  lastOpenSeq(): number {
    const row = this.db
      .prepare(`SELECT max(seq) AS seq FROM op_log WHERE body LIKE '{"op":"open"%'`)
      .get() as { seq: number | null };
    return row.seq ?? 0;
  }

  /** The one-time secrets still `issued`: which session, attempt and token holds each. */
  issuedNonces(): { sessionId: string; attempt: number; token: number }[] {
    const rows = this.db
      .prepare("SELECT session_id, attempt, token FROM nonces WHERE state = 'issued'")
      .all() as { session_id: string; attempt: number; token: number }[];
    return rows.map((r) => ({ sessionId: r.session_id, attempt: r.attempt, token: r.token }));
  }

  close(): void {
    this.db.close();
  }
}
