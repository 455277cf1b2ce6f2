/** SQLite {@link PartyJournal}: WAL + `synchronous=FULL`, one transaction per call. */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { IntentLockResult, NonceEntry, PartyJournal } from './journal.ts';

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

  constructor(path: string, nowMs: number) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(schema);
    // The in-memory nonces of the previous process are gone: those entries can never be used.
    this.db
      .prepare("UPDATE nonces SET state = 'void', closed_ms = ? WHERE state = 'issued'")
      .run(nowMs);
  }

  lockIntent(
    walletId: string,
    intentKey: string,
    messageHash: string,
    sessionId: string,
  ): IntentLockResult {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO intent_locks (wallet_id, intent_key, message_hash, session_id) VALUES (?, ?, ?, ?)',
      )
      .run(walletId, intentKey, messageHash, sessionId);
    const row = this.db
      .prepare('SELECT message_hash FROM intent_locks WHERE wallet_id = ? AND intent_key = ?')
      .get(walletId, intentKey) as { message_hash: string };
    return row.message_hash === messageHash
      ? { ok: true }
      : { ok: false, lockedMessageHash: row.message_hash };
  }

  observeToken(sessionId: string, token: number, nowMs: number): boolean {
    const txn = this.db.transaction(() => {
      const current = this.highestToken(sessionId);
      if (token < current) return false;
      if (token > current) {
        this.db
          .prepare(
            'INSERT INTO session_tokens (session_id, token, updated_ms) VALUES (?, ?, ?) ON CONFLICT(session_id) DO UPDATE SET token = excluded.token, updated_ms = excluded.updated_ms',
          )
          .run(sessionId, token, nowMs);
      }
      return true;
    });
    return txn.immediate();
  }

  highestToken(sessionId: string): number {
    const row = this.db
      .prepare('SELECT token FROM session_tokens WHERE session_id = ?')
      .get(sessionId) as { token: number } | undefined;
    return row?.token ?? 0;
  }

  recordNonce(entry: Omit<NonceEntry, 'state' | 'closedMs'>): boolean {
    const info = this.db
      .prepare(
        "INSERT OR IGNORE INTO nonces (commitment, session_id, attempt, token, state, issued_ms) VALUES (?, ?, ?, ?, 'issued', ?)",
      )
      .run(entry.commitment, entry.sessionId, entry.attempt, entry.token, entry.issuedMs);
    return info.changes === 1;
  }

  consumeNonce(commitment: string, nowMs: number): boolean {
    const info = this.db
      .prepare(
        "UPDATE nonces SET state = 'consumed', closed_ms = ? WHERE commitment = ? AND state = 'issued'",
      )
      .run(nowMs, commitment);
    return info.changes === 1;
  }

  discardNonces(sessionId: string, nowMs: number, attempt?: number): number {
    const info =
      attempt === undefined
        ? this.db
            .prepare(
              "UPDATE nonces SET state = 'discarded', closed_ms = ? WHERE session_id = ? AND state = 'issued'",
            )
            .run(nowMs, sessionId)
        : this.db
            .prepare(
              "UPDATE nonces SET state = 'discarded', closed_ms = ? WHERE session_id = ? AND attempt = ? AND state = 'issued'",
            )
            .run(nowMs, sessionId, attempt);
    return info.changes;
  }

  nonces(): NonceEntry[] {
    const rows = this.db
      .prepare('SELECT * FROM nonces ORDER BY issued_ms, rowid')
      .all() as NonceRow[];
    return rows.map((r) => ({
      commitment: r.commitment,
      sessionId: r.session_id,
      attempt: r.attempt,
      token: r.token,
      state: r.state,
      issuedMs: r.issued_ms,
      ...(r.closed_ms === null ? {} : { closedMs: r.closed_ms }),
    }));
  }

  countIssued(): number {
    const row = this.db
      .prepare("SELECT count(*) AS n FROM nonces WHERE state = 'issued'")
      .get() as { n: number };
    return row.n;
  }

  putSealedShare(walletId: string, sealed: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO key_shares (wallet_id, sealed) VALUES (?, ?)')
      .run(walletId, sealed);
  }

  getSealedShare(walletId: string): string | undefined {
    const row = this.db
      .prepare('SELECT sealed FROM key_shares WHERE wallet_id = ?')
      .get(walletId) as { sealed: string } | undefined;
    return row?.sealed;
  }

  getMeta(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value);
  }

  expireSessionsBefore(beforeMs: number): number {
    return this.db.prepare('DELETE FROM session_tokens WHERE updated_ms < ?').run(beforeMs).changes;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
