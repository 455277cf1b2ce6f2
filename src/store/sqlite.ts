/**
 * SQLite Store (the embedded default). WAL with `synchronous=FULL`: a committed transition
 * survives power loss. Every session change is an `UPDATE … WHERE version = ?`, i.e. a CAS on
 * the fencing token; the intent lock is a primary key, so create-if-absent is atomic.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { QuorateError } from '../core/errors.ts';
import type {
  CreateSessionResult,
  EvidenceRecord,
  PartyRecord,
  SessionRecord,
  Store,
  Versioned,
  WalletRecord,
} from './store.ts';

const schema = `
CREATE TABLE IF NOT EXISTS parties (party_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS wallets (wallet_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY, wallet_id TEXT NOT NULL, active INTEGER NOT NULL,
  created_ms INTEGER NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_active ON sessions (active, created_ms);
CREATE INDEX IF NOT EXISTS sessions_created ON sessions (created_ms);
CREATE TABLE IF NOT EXISTS intents (
  wallet_id TEXT NOT NULL, intent_key TEXT NOT NULL, session_id TEXT NOT NULL,
  message_hash TEXT NOT NULL, PRIMARY KEY (wallet_id, intent_key));
CREATE TABLE IF NOT EXISTS evidence (
  session_id TEXT NOT NULL, attempt INTEGER NOT NULL, party_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS evidence_session ON evidence (session_id);
`;

interface SessionRow {
  version: number;
  body: string;
}

function parseSession(row: SessionRow): Versioned<SessionRecord> {
  return { value: JSON.parse(row.body) as SessionRecord, version: row.version };
}

const isActive = (s: SessionRecord): number =>
  s.status === 'pending' || s.status === 'running' ? 1 : 0;

/** SQLite implementation of {@link Store}. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;

  /** Opens (creating if needed) the store file at `path`. */
  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(schema);
    } catch (error) {
      throw new QuorateError(
        'QUORATE_E_STORE_UNAVAILABLE',
        `cannot open SQLite store: ${String(error)}`,
        { path },
      );
    }
  }

  async pinParty(record: PartyRecord): Promise<PartyRecord> {
    this.db
      .prepare('INSERT OR IGNORE INTO parties (party_id, body) VALUES (?, ?)')
      .run(record.partyId, JSON.stringify(record));
    return (await this.getParty(record.partyId)) as PartyRecord;
  }

  async getParty(partyId: string): Promise<PartyRecord | undefined> {
    const row = this.db.prepare('SELECT body FROM parties WHERE party_id = ?').get(partyId) as
      { body: string } | undefined;
    return row && (JSON.parse(row.body) as PartyRecord);
  }

  async listParties(): Promise<PartyRecord[]> {
    const rows = this.db.prepare('SELECT body FROM parties ORDER BY party_id').all() as {
      body: string;
    }[];
    return rows.map((r) => JSON.parse(r.body) as PartyRecord);
  }

  async createWallet(record: WalletRecord): Promise<boolean> {
    const info = this.db
      .prepare('INSERT OR IGNORE INTO wallets (wallet_id, body) VALUES (?, ?)')
      .run(record.walletId, JSON.stringify(record));
    return info.changes === 1;
  }

  async getWallet(walletId: string): Promise<WalletRecord | undefined> {
    const row = this.db.prepare('SELECT body FROM wallets WHERE wallet_id = ?').get(walletId) as
      { body: string } | undefined;
    return row && (JSON.parse(row.body) as WalletRecord);
  }

  async createSession(record: SessionRecord): Promise<CreateSessionResult> {
    const txn = this.db.transaction((): CreateSessionResult => {
      const lock = this.db
        .prepare('SELECT session_id FROM intents WHERE wallet_id = ? AND intent_key = ?')
        .get(record.walletId, record.intentKey) as { session_id: string } | undefined;
      if (lock) {
        const row = this.db
          .prepare('SELECT version, body FROM sessions WHERE session_id = ?')
          .get(lock.session_id) as SessionRow | undefined;
        if (!row) throw new QuorateError('QUORATE_E_INTERNAL', 'intent lock without session');
        return { created: false, session: parseSession(row) };
      }
      this.db
        .prepare(
          'INSERT INTO intents (wallet_id, intent_key, session_id, message_hash) VALUES (?, ?, ?, ?)',
        )
        .run(record.walletId, record.intentKey, record.sessionId, record.messageHash);
      this.db
        .prepare(
          'INSERT INTO sessions (session_id, wallet_id, active, created_ms, version, body) VALUES (?, ?, ?, ?, 1, ?)',
        )
        .run(
          record.sessionId,
          record.walletId,
          isActive(record),
          record.createdMs,
          JSON.stringify(record),
        );
      return { created: true, session: { value: structuredClone(record), version: 1 } };
    });
    return txn.immediate();
  }

  async getSession(sessionId: string): Promise<Versioned<SessionRecord> | undefined> {
    const row = this.db
      .prepare('SELECT version, body FROM sessions WHERE session_id = ?')
      .get(sessionId) as SessionRow | undefined;
    return row && parseSession(row);
  }

  async casSession(
    sessionId: string,
    expectedVersion: number,
    next: SessionRecord,
  ): Promise<Versioned<SessionRecord>> {
    const info = this.db
      .prepare(
        'UPDATE sessions SET version = version + 1, active = ?, body = ? WHERE session_id = ? AND version = ?',
      )
      .run(isActive(next), JSON.stringify(next), sessionId, expectedVersion);
    if (info.changes !== 1) {
      const current = await this.getSession(sessionId);
      throw new QuorateError('QUORATE_E_STALE_TOKEN', 'session version moved on', {
        sessionId,
        expectedVersion,
        actualVersion: current?.version ?? null,
      });
    }
    return { value: structuredClone(next), version: expectedVersion + 1 };
  }

  async listActiveSessions(limit: number): Promise<Versioned<SessionRecord>[]> {
    const rows = this.db
      .prepare('SELECT version, body FROM sessions WHERE active = 1 ORDER BY created_ms LIMIT ?')
      .all(limit) as SessionRow[];
    return rows.map(parseSession);
  }

  async listSessions(limit: number): Promise<Versioned<SessionRecord>[]> {
    const rows = this.db
      .prepare('SELECT version, body FROM sessions ORDER BY created_ms DESC LIMIT ?')
      .all(limit) as SessionRow[];
    return rows.map(parseSession);
  }

  async putEvidence(record: EvidenceRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO evidence (session_id, attempt, party_id, body) VALUES (?, ?, ?, ?)')
      .run(record.sessionId, record.attempt, record.partyId, JSON.stringify(record));
  }

  async listEvidence(sessionId: string): Promise<EvidenceRecord[]> {
    const rows = this.db
      .prepare('SELECT body FROM evidence WHERE session_id = ? ORDER BY rowid')
      .all(sessionId) as {
      body: string;
    }[];
    return rows.map((r) => JSON.parse(r.body) as EvidenceRecord);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
