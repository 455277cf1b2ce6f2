/**
 * SQLite Store (the embedded default). WAL with `synchronous=FULL`: a committed transition
 * survives power loss. Every session change is an `UPDATE … WHERE version = ?`, i.e. a CAS on
 * the fencing token; the intent lock is a primary key, so create-if-absent is atomic. Leases
 * are rows with an expiry time on the store clock (wall clock: rows outlive the process);
 * ownership checks run in the same immediate transaction as the version check.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { assert } from '../core/assert.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import {
  checkLeaseTtl,
  claimBlocker,
  createLeaseExpired,
  requireClock,
  staleOwnership,
  staleVersion,
  type StoreClock,
} from './lease.ts';
import {
  afterSession,
  checkPageLimit,
  intentArchived,
  pageOf,
  parseSessionCursor,
  parseWalletCursor,
  sessionPageStart,
  walletPage,
} from './paging.ts';
import { PreparedStatements } from './prepared-statements.ts';
import { checkPartyRecordsRoom, judgeRedeem } from './party-records.ts';
import { historyRevisions, type HistoryBatch, type HistoryImporter } from './seed.ts';
import type {
  ClaimOptions,
  ClaimResult,
  CreateSessionResult,
  EvidenceRecord,
  Lease,
  LeaseGuard,
  Page,
  PartyInvitation,
  PartyRecord,
  RetainedSession,
  SessionHead,
  SessionPageQuery,
  SessionVersion,
  Store,
  Versioned,
  WalletRecord,
  WalletPageQuery,
  WalletSessions,
} from './store.ts';
import { countedAtMs } from './store.ts';
import type { SessionOwner, SessionRecord } from '../session/record.ts';

const schema = `
CREATE TABLE IF NOT EXISTS parties (party_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invitations (
  party_id TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS wallets (wallet_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY, wallet_id TEXT NOT NULL, active INTEGER NOT NULL,
  created_ms INTEGER NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intents (
  wallet_id TEXT NOT NULL, intent_key TEXT NOT NULL, session_id TEXT NOT NULL,
  message_hash TEXT NOT NULL, PRIMARY KEY (wallet_id, intent_key));
CREATE TABLE IF NOT EXISTS evidence (
  session_id TEXT NOT NULL, attempt INTEGER NOT NULL, party_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS evidence_session ON evidence (session_id);
CREATE TABLE IF NOT EXISTS leases (
  lease_id INTEGER PRIMARY KEY AUTOINCREMENT, owner_id TEXT NOT NULL,
  ttl_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/**
 * Columns added after the first release, each filled from the stored bodies in the same
 * transaction that adds it, before any other use:
 * - `counted_ms`: the velocity index, each session's counted time (`countedAtMs`);
 * - `status`, `owner_id`, `owner_lease`: what the takeover scan, the CAS and the paged listings
 *   read without parsing a body (owner_lease has INTEGER affinity, like `leases.lease_id`).
 */
const addedColumns: readonly [name: string, type: string, fill: string][] = [
  ['counted_ms', 'INTEGER', "coalesce(json_extract(body, '$.retry.lastMs'), created_ms)"],
  ['status', 'TEXT', "json_extract(body, '$.status')"],
  ['owner_id', 'TEXT', "json_extract(body, '$.owner.ownerId')"],
  ['owner_lease', 'INTEGER', "json_extract(body, '$.owner.leaseId')"],
];

/** Indexes every hot statement reads through (test/unit/store-query-plans.test.ts checks). */
const sessionIndexes = `
CREATE INDEX IF NOT EXISTS sessions_wallet_counted ON sessions (wallet_id, counted_ms);
CREATE INDEX IF NOT EXISTS sessions_active_created ON sessions (active, created_ms, session_id);
CREATE INDEX IF NOT EXISTS sessions_created_id ON sessions (created_ms, session_id);
CREATE INDEX IF NOT EXISTS sessions_wallet_created ON sessions (wallet_id, created_ms, session_id);
CREATE INDEX IF NOT EXISTS sessions_status_created ON sessions (status, created_ms, session_id);
CREATE INDEX IF NOT EXISTS sessions_wallet_status
  ON sessions (wallet_id, status, created_ms, session_id);
DROP INDEX IF EXISTS sessions_active;
DROP INDEX IF EXISTS sessions_created;
`;

function migrateSessionColumns(db: Database.Database): void {
  const columns = db.prepare('PRAGMA table_info(sessions)').all() as { name: string }[];
  db.transaction(() => {
    for (const [name, type, fill] of addedColumns) {
      if (columns.some((c) => c.name === name)) continue;
      db.exec(`ALTER TABLE sessions ADD COLUMN ${name} ${type}`);
      db.exec(`UPDATE sessions SET ${name} = ${fill}`);
    }
    db.exec(sessionIndexes);
  }).immediate();
}

interface SessionRow {
  version: number;
  body: string;
}

function parseSession(row: SessionRow): Versioned<SessionRecord> {
  return { value: JSON.parse(row.body) as SessionRecord, version: row.version };
}

const isActive = (s: SessionRecord): number =>
  s.status === 'pending' || s.status === 'running' ? 1 : 0;

/**
 * `record` with its owner replaced by `owner` (or removed). A shallow copy: the stored copy is
 * the JSON text, and session records are immutable values (the machine returns new ones), so
 * the answer may share nested arrays with the caller's `record` without a deep clone per write.
 */
function withOwner(record: SessionRecord, owner: SessionOwner | undefined): SessionRecord {
  const { owner: _ignored, ...rest } = record;
  return owner ? { ...rest, owner: { ...owner } } : rest;
}

/** The derived columns of a session row, in the order the statements bind them. */
const sessionColumns = (
  s: SessionRecord,
): [number, number, string, string | null, string | null, string] => [
  isActive(s),
  countedAtMs(s),
  s.status,
  s.owner?.ownerId ?? null,
  s.owner?.leaseId ?? null,
  JSON.stringify(s),
];

/** A session's version and owner, read from columns (no body parse). */
interface SessionHeadRow {
  version: number;
  owner_id: string | null;
  owner_lease: number | string | null;
}

const ownerOfRow = (row: SessionHeadRow): SessionOwner | undefined =>
  row.owner_id === null || row.owner_lease === null
    ? undefined
    : { ownerId: row.owner_id, leaseId: String(row.owner_lease) };

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** The store's clock for lease expiry, normally the Env (required before any lease call). */
  clock?: StoreClock;
}

interface LeaseRow {
  owner_id: string;
  ttl_ms: number;
  expires_ms: number;
}

/** SQLite implementation of {@link Store}. */
export class SqliteStore implements Store, HistoryImporter {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly clock: StoreClock | undefined;

  private readonly statements: PreparedStatements;

  /** Opens (creating if needed) the store file at `path`. */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.clock = options.clock;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path);
      this.statements = new PreparedStatements(this.db);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(schema);
      migrateSessionColumns(this.db);
    } catch (error) {
      throw new QuorateError(
        'QUORATE_E_STORE_UNAVAILABLE',
        `cannot open SQLite store: ${String(error)}`,
        { path },
      );
    }
  }

  /** The SQL of every statement this store has prepared (the query-plan test reads them). */
  preparedStatements(): string[] {
    return this.statements.texts();
  }

  /** The prepared statement for `text`, prepared once per store. */
  private sql(text: string): Database.Statement {
    return this.statements.get(text);
  }

  async pinParty(record: PartyRecord): Promise<PartyRecord> {
    this.sql('INSERT OR IGNORE INTO parties (party_id, body) VALUES (?, ?)').run(
      record.partyId,
      JSON.stringify(record),
    );
    return (await this.getParty(record.partyId)) as PartyRecord;
  }

  async getParty(partyId: string): Promise<PartyRecord | undefined> {
    const row = this.sql('SELECT body FROM parties WHERE party_id = ?').get(partyId) as
      { body: string } | undefined;
    return row && (JSON.parse(row.body) as PartyRecord);
  }

  async listParties(): Promise<PartyRecord[]> {
    const rows = this.sql('SELECT body FROM parties ORDER BY party_id').all() as {
      body: string;
    }[];
    return rows.map((r) => JSON.parse(r.body) as PartyRecord);
  }

  async putParty(record: PartyRecord): Promise<void> {
    this.sql('INSERT OR REPLACE INTO parties (party_id, body) VALUES (?, ?)').run(
      record.partyId,
      JSON.stringify(record),
    );
  }

  async deleteParty(partyId: string): Promise<boolean> {
    const txn = this.db.transaction((): boolean => {
      this.sql('DELETE FROM invitations WHERE party_id = ?').run(partyId);
      return this.sql('DELETE FROM parties WHERE party_id = ?').run(partyId).changes === 1;
    });
    return txn.immediate();
  }

  async putInvitation(inv: PartyInvitation): Promise<void> {
    const txn = this.db.transaction((): void => {
      this.sql('DELETE FROM invitations WHERE expires_ms <= ?').run(inv.issuedMs);
      const known = this.sql(
        'SELECT 1 FROM parties WHERE party_id = ? UNION ALL SELECT 1 FROM invitations WHERE party_id = ?',
      ).get(inv.partyId, inv.partyId);
      if (!known) {
        const { n } = this.sql(
          'SELECT count(*) AS n FROM (SELECT party_id FROM parties UNION SELECT party_id FROM invitations)',
        ).get() as { n: number };
        checkPartyRecordsRoom(n);
      }
      this.sql(
        'INSERT OR REPLACE INTO invitations (party_id, expires_ms, body) VALUES (?, ?, ?)',
      ).run(inv.partyId, inv.expiresMs, JSON.stringify(inv));
    });
    txn.immediate();
  }

  async getInvitation(partyId: string): Promise<PartyInvitation | undefined> {
    return this.readInvitation(partyId);
  }

  private readInvitation(partyId: string): PartyInvitation | undefined {
    const row = this.sql('SELECT body FROM invitations WHERE party_id = ?').get(partyId) as
      { body: string } | undefined;
    return row && (JSON.parse(row.body) as PartyInvitation);
  }

  async redeemInvitation(macKey: string, record: PartyRecord): Promise<PartyRecord | undefined> {
    const txn = this.db.transaction((): PartyRecord | undefined => {
      const { partyId } = record;
      const existingRow = this.sql('SELECT body FROM parties WHERE party_id = ?').get(partyId) as
        { body: string } | undefined;
      const existing = existingRow && (JSON.parse(existingRow.body) as PartyRecord);
      const outcome = judgeRedeem(this.readInvitation(partyId), macKey, existing, record);
      if (!outcome) return undefined;
      this.sql('DELETE FROM invitations WHERE party_id = ?').run(partyId);
      if (outcome.write) {
        this.sql('INSERT OR REPLACE INTO parties (party_id, body) VALUES (?, ?)').run(
          partyId,
          JSON.stringify(record),
        );
      }
      return outcome.pin;
    });
    return txn.immediate();
  }

  async createWallet(record: WalletRecord): Promise<boolean> {
    const info = this.sql('INSERT OR IGNORE INTO wallets (wallet_id, body) VALUES (?, ?)').run(
      record.walletId,
      JSON.stringify(record),
    );
    return info.changes === 1;
  }

  async replaceWallet(next: WalletRecord, expectedRevision: number): Promise<boolean> {
    assert(next.revision === expectedRevision + 1, 'a replaced wallet bumps its revision');
    const txn = this.db.transaction((): boolean => {
      const row = this.sql('SELECT body FROM wallets WHERE wallet_id = ?').get(next.walletId) as
        { body: string } | undefined;
      if (!row || ((JSON.parse(row.body) as WalletRecord).revision ?? 0) !== expectedRevision)
        return false;
      this.sql('UPDATE wallets SET body = ? WHERE wallet_id = ?').run(
        JSON.stringify(next),
        next.walletId,
      );
      return true;
    });
    return txn.immediate();
  }

  async countWallets(limit: number): Promise<number> {
    const { n } = this.sql('SELECT count(*) AS n FROM (SELECT 1 FROM wallets LIMIT ?)').get(
      limit,
    ) as { n: number };
    return n;
  }

  async getWallet(walletId: string): Promise<WalletRecord | undefined> {
    const row = this.sql('SELECT body FROM wallets WHERE wallet_id = ?').get(walletId) as
      { body: string } | undefined;
    return row && (JSON.parse(row.body) as WalletRecord);
  }

  async createSession(
    record: SessionRecord,
    options: LeaseGuard = {},
  ): Promise<CreateSessionResult> {
    const { lease } = options;
    const txn = this.db.transaction((): CreateSessionResult => {
      const lock = this.sql(
        'SELECT session_id, message_hash FROM intents WHERE wallet_id = ? AND intent_key = ?',
      ).get(record.walletId, record.intentKey) as
        { session_id: string; message_hash: string } | undefined;
      if (lock) {
        const row = this.sql('SELECT version, body FROM sessions WHERE session_id = ?').get(
          lock.session_id,
        ) as SessionRow | undefined;
        // A lock without its session is retention's tombstone: that intent is spent for good.
        if (!row) throw intentArchived(record, lock.session_id, lock.message_hash);
        return { created: false, session: parseSession(row) };
      }
      if (lease && !this.leaseLive(lease.leaseId, lease.ownerId)) {
        throw createLeaseExpired(record.sessionId, lease);
      }
      const owner = lease && { ownerId: lease.ownerId, leaseId: lease.leaseId };
      const stored = withOwner(record, owner);
      this.sql(
        'INSERT INTO intents (wallet_id, intent_key, session_id, message_hash) VALUES (?, ?, ?, ?)',
      ).run(record.walletId, record.intentKey, record.sessionId, record.messageHash);
      this.sql(
        'INSERT INTO sessions (session_id, wallet_id, created_ms, version, active, counted_ms, status, owner_id, owner_lease, body) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?)',
      ).run(record.sessionId, record.walletId, record.createdMs, ...sessionColumns(stored));
      return { created: true, session: { value: stored, version: 1 } };
    });
    return txn.immediate();
  }

  async getSession(sessionId: string): Promise<Versioned<SessionRecord> | undefined> {
    return this.readSession(sessionId);
  }

  async casSession(
    sessionId: string,
    expectedVersion: number,
    next: SessionRecord,
    options: LeaseGuard = {},
  ): Promise<Versioned<SessionRecord>> {
    const { lease } = options;
    const txn = this.db.transaction((): Versioned<SessionRecord> => {
      // The version and owner are columns: a CAS never parses the stored body.
      const head = this.sql(
        'SELECT version, owner_id, owner_lease FROM sessions WHERE session_id = ?',
      ).get(sessionId) as SessionHeadRow | undefined;
      if (head?.version !== expectedVersion) {
        throw staleVersion(sessionId, expectedVersion, head?.version ?? null);
      }
      const owner = ownerOfRow(head);
      if (lease && owner?.leaseId !== lease.leaseId) {
        throw staleOwnership(sessionId, lease, 'not-owner');
      }
      if (lease && !this.leaseLive(lease.leaseId, lease.ownerId)) {
        throw staleOwnership(sessionId, lease, 'lease-expired');
      }
      return this.writeSession(sessionId, expectedVersion, withOwner(next, owner));
    });
    return txn.immediate();
  }

  async claimSession(
    sessionId: string,
    expectedVersion: number,
    lease: Lease,
    options: ClaimOptions = {},
  ): Promise<ClaimResult> {
    const txn = this.db.transaction((): ClaimResult => {
      const current = this.readSession(sessionId);
      if (!current) return { claimed: false, reason: 'not-found' };
      if (current.version !== expectedVersion) {
        return { claimed: false, reason: 'version-moved', session: current };
      }
      if (!this.leaseLive(lease.leaseId, lease.ownerId)) {
        return { claimed: false, reason: 'lease-expired', session: current };
      }
      const blocker = claimBlocker(current.value, lease, options);
      if (blocker && this.leaseLive(blocker.leaseId)) {
        return { claimed: false, reason: 'owned', session: current };
      }
      const owner = { ownerId: lease.ownerId, leaseId: lease.leaseId };
      const session = this.writeSession(
        sessionId,
        expectedVersion,
        withOwner(current.value, owner),
      );
      return { claimed: true, session };
    });
    return txn.immediate();
  }

  async acquireLease(ownerId: string, ttlMs: number): Promise<Lease> {
    checkLeaseTtl(ttlMs);
    const nowMs = requireClock(this.clock, 'sqlite').nowMs();
    const txn = this.db.transaction((): Lease => {
      // Expired rows are dead for good; AUTOINCREMENT keeps their ids from ever coming back.
      this.sql('DELETE FROM leases WHERE expires_ms <= ?').run(nowMs);
      const { n } = this.sql('SELECT count(*) AS n FROM leases').get() as { n: number };
      if (n >= limits.storeLeasesMax) {
        throw new QuorateError('QUORATE_E_STORE_UNAVAILABLE', 'too many live leases', {
          leasesMax: limits.storeLeasesMax,
        });
      }
      const info = this.sql(
        'INSERT INTO leases (owner_id, ttl_ms, expires_ms) VALUES (?, ?, ?)',
      ).run(ownerId, ttlMs, nowMs + ttlMs);
      return { leaseId: String(info.lastInsertRowid), ownerId, ttlMs };
    });
    return txn.immediate();
  }

  async renewLease(lease: Lease): Promise<Lease | undefined> {
    const nowMs = requireClock(this.clock, 'sqlite').nowMs();
    const info = this.sql(
      'UPDATE leases SET expires_ms = ? + ttl_ms WHERE lease_id = ? AND owner_id = ? AND expires_ms > ?',
    ).run(nowMs, lease.leaseId, lease.ownerId, nowMs);
    if (info.changes !== 1) return undefined;
    const row = this.sql('SELECT owner_id, ttl_ms, expires_ms FROM leases WHERE lease_id = ?').get(
      lease.leaseId,
    ) as LeaseRow;
    return { leaseId: lease.leaseId, ownerId: row.owner_id, ttlMs: row.ttl_ms };
  }

  async revokeLease(lease: Lease): Promise<void> {
    this.sql('DELETE FROM leases WHERE lease_id = ?').run(lease.leaseId);
  }

  /** True iff `leaseId` is live on the store clock and (when given) held by `ownerId`. */
  private leaseLive(leaseId: string, ownerId?: string): boolean {
    const nowMs = requireClock(this.clock, 'sqlite').nowMs();
    const row = this.sql('SELECT owner_id, ttl_ms, expires_ms FROM leases WHERE lease_id = ?').get(
      leaseId,
    ) as LeaseRow | undefined;
    if (!row || row.expires_ms <= nowMs) return false;
    return ownerId === undefined || row.owner_id === ownerId;
  }

  private readSession(sessionId: string): Versioned<SessionRecord> | undefined {
    const row = this.sql('SELECT version, body FROM sessions WHERE session_id = ?').get(
      sessionId,
    ) as SessionRow | undefined;
    return row && parseSession(row);
  }

  /** The CAS itself; callers run it inside an immediate transaction after their checks. */
  private writeSession(
    sessionId: string,
    expectedVersion: number,
    next: SessionRecord,
  ): Versioned<SessionRecord> {
    const info = this.sql(
      'UPDATE sessions SET version = version + 1, active = ?, counted_ms = ?, status = ?, owner_id = ?, owner_lease = ?, body = ? WHERE session_id = ? AND version = ?',
    ).run(...sessionColumns(next), sessionId, expectedVersion);
    if (info.changes !== 1) throw staleVersion(sessionId, expectedVersion, null);
    return { value: next, version: expectedVersion + 1 };
  }

  async listActiveSessions(limit: number): Promise<Versioned<SessionRecord>[]> {
    const rows = this.sql(
      'SELECT version, body FROM sessions WHERE active = 1 ORDER BY created_ms LIMIT ?',
    ).all(limit) as SessionRow[];
    return rows.map(parseSession);
  }

  async listSessions(limit: number): Promise<Versioned<SessionRecord>[]> {
    const rows = this.sql(
      'SELECT version, body FROM sessions ORDER BY created_ms DESC LIMIT ?',
    ).all(limit) as SessionRow[];
    return rows.map(parseSession);
  }

  async listWalletSessions(
    walletId: string,
    sinceMs: number,
    limit: number,
  ): Promise<WalletSessions> {
    const rows = this.sql(
      'SELECT version, body FROM sessions WHERE wallet_id = ? AND counted_ms >= ? ORDER BY counted_ms LIMIT ?',
    ).all(walletId, sinceMs, limit + 1) as SessionRow[];
    const sessions = rows.slice(0, limit).map((row) => parseSession(row).value);
    return { sessions, complete: rows.length <= limit };
  }

  async listTakeoverCandidates(lease: Lease, limit: number): Promise<SessionHead[]> {
    const nowMs = requireClock(this.clock, 'sqlite').nowMs();
    const rows = this.sql(
      `SELECT session_id, owner_id, owner_lease FROM sessions
       WHERE active = 1 AND (owner_lease IS NULL OR owner_id = ? OR owner_lease NOT IN
         (SELECT lease_id FROM leases WHERE expires_ms > ?))
       ORDER BY created_ms LIMIT ?`,
    ).all(lease.ownerId, nowMs, limit) as (SessionHeadRow & { session_id: string })[];
    return rows.map((row) => {
      const owner = ownerOfRow(row);
      return owner ? { sessionId: row.session_id, owner } : { sessionId: row.session_id };
    });
  }

  async listSessionsPage(query: SessionPageQuery): Promise<Page<Versioned<SessionRecord>>> {
    const start = sessionPageStart(query);
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.walletId !== undefined) {
      where.push('wallet_id = ?');
      args.push(query.walletId);
    }
    if (query.status !== undefined) {
      where.push('status = ?');
      args.push(query.status);
    }
    if (start) {
      where.push('(created_ms, session_id) < (?, ?)');
      args.push(start.createdMs, start.sessionId);
    }
    // One of eight constant texts (filters present or not), so the statement cache stays small.
    const rows = this.sql(
      `SELECT version, body FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_ms DESC, session_id DESC LIMIT ?`,
    ).all(...args, query.limit + 1) as SessionRow[];
    return pageOf(rows.map(parseSession), query.limit, afterSession);
  }

  async listWalletsPage(query: WalletPageQuery): Promise<Page<WalletRecord>> {
    checkPageLimit(query.limit);
    const after = query.cursor === undefined ? undefined : parseWalletCursor(query.cursor);
    const rows = (
      after === undefined
        ? this.sql('SELECT body FROM wallets ORDER BY wallet_id LIMIT ?').all(query.limit + 1)
        : this.sql('SELECT body FROM wallets WHERE wallet_id > ? ORDER BY wallet_id LIMIT ?').all(
            after,
            query.limit + 1,
          )
    ) as { body: string }[];
    const wallets = rows.map((r) => JSON.parse(r.body) as WalletRecord);
    return walletPage(wallets, query.limit);
  }

  async listRetainable(
    beforeMs: number,
    cursor: string | undefined,
    limit: number,
  ): Promise<Page<RetainedSession>> {
    const start =
      cursor === undefined ? { createdMs: -1, sessionId: '' } : parseSessionCursor(cursor);
    const rows = this.sql(
      `SELECT version, body FROM sessions
       WHERE active = 0 AND (created_ms, session_id) > (?, ?) AND created_ms < ? AND counted_ms < ?
       ORDER BY created_ms, session_id LIMIT ?`,
    ).all(start.createdMs, start.sessionId, beforeMs, beforeMs, limit + 1) as SessionRow[];
    // Evidence is read for the page's sessions only, not for the look-ahead row.
    const page = pageOf(rows.map(parseSession), limit, afterSession);
    const items = page.items.map((session) => ({
      session,
      evidence: this.evidenceOf(session.value.sessionId),
    }));
    return page.nextCursor === undefined ? { items } : { items, nextCursor: page.nextCursor };
  }

  async removeSessions(sessions: readonly SessionVersion[]): Promise<number> {
    const txn = this.db.transaction((): number => {
      let removed = 0;
      for (const { sessionId, version } of sessions) {
        const info = this.sql(
          'DELETE FROM sessions WHERE session_id = ? AND version = ? AND active = 0',
        ).run(sessionId, version);
        if (info.changes !== 1) continue;
        this.sql('DELETE FROM evidence WHERE session_id = ?').run(sessionId);
        removed += 1;
      }
      return removed;
    });
    return txn.immediate();
  }

  /**
   * Bulk load of finished history (src/store/seed.ts): one immediate transaction for the whole
   * batch, the same rows and columns {@link createSession} and the CAS would have left.
   */
  async importHistory(batch: HistoryBatch): Promise<void> {
    const txn = this.db.transaction((): void => {
      for (const wallet of batch.wallets) {
        this.sql('INSERT INTO wallets (wallet_id, body) VALUES (?, ?)').run(
          wallet.walletId,
          JSON.stringify(wallet),
        );
      }
      for (const record of batch.sessions) {
        assert(isActive(record) === 0, 'imported history is finished');
        this.sql(
          'INSERT INTO intents (wallet_id, intent_key, session_id, message_hash) VALUES (?, ?, ?, ?)',
        ).run(record.walletId, record.intentKey, record.sessionId, record.messageHash);
        this.sql(
          'INSERT INTO sessions (session_id, wallet_id, created_ms, version, active, counted_ms, status, owner_id, owner_lease, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ).run(
          record.sessionId,
          record.walletId,
          record.createdMs,
          historyRevisions(record).length,
          ...sessionColumns(record),
        );
      }
    });
    txn.immediate();
  }

  async getMeta(key: string): Promise<string | undefined> {
    const row = this.sql('SELECT value FROM meta WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  async putMetaIfAbsent(key: string, value: string): Promise<string> {
    this.sql('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run(key, value);
    return (await this.getMeta(key)) as string;
  }

  async putEvidence(record: EvidenceRecord): Promise<void> {
    this.sql('INSERT INTO evidence (session_id, attempt, party_id, body) VALUES (?, ?, ?, ?)').run(
      record.sessionId,
      record.attempt,
      record.partyId,
      JSON.stringify(record),
    );
  }

  async listEvidence(sessionId: string): Promise<EvidenceRecord[]> {
    return this.evidenceOf(sessionId);
  }

  private evidenceOf(sessionId: string): EvidenceRecord[] {
    const rows = this.sql('SELECT body FROM evidence WHERE session_id = ? ORDER BY rowid').all(
      sessionId,
    ) as {
      body: string;
    }[];
    return rows.map((r) => JSON.parse(r.body) as EvidenceRecord);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
