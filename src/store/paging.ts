/**
 * Cursors and page limits shared by the stores. A cursor is opaque to callers: base64url of
 * the JSON position of the last item a page returned, checked on the way back in, so a
 * cursor from a request can only ever name a position, never change what a query reads.
 */
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { isTerminal, type SessionRecord } from '../session/record.ts';
import type { Page, SessionPageQuery, WalletRecord } from './store.ts';
import { countedAtMs } from './store.ts';

/** A position in a (createdMs, sessionId) order. */
export interface SessionPosition {
  createdMs: number;
  sessionId: string;
}

const badCursor = (reason: string): QuorateError =>
  new QuorateError('QUORATE_E_BAD_REQUEST', `bad page cursor: ${reason}`, {
    reason: 'bad-cursor',
  });

/** Throws `QUORATE_E_BAD_REQUEST` unless `limit` is a whole number in 1..storePageSizeMax. */
export function checkPageLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > limits.storePageSizeMax) {
    throw new QuorateError(
      'QUORATE_E_BAD_REQUEST',
      `page size must be 1..${limits.storePageSizeMax}`,
      { limit, pageSizeMax: limits.storePageSizeMax },
    );
  }
}

const encode = (value: unknown): string =>
  Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

function decode(cursor: string): unknown {
  if (cursor.length === 0 || cursor.length > limits.storeCursorCharsMax) {
    throw badCursor('length');
  }
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw badCursor('not a cursor');
  }
}

/** The cursor after a session at `position`. */
export const sessionCursor = (position: SessionPosition): string =>
  encode([position.createdMs, position.sessionId]);

/** The position a session cursor names (`QUORATE_E_BAD_REQUEST` if malformed). */
export function parseSessionCursor(cursor: string): SessionPosition {
  const value = decode(cursor);
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    !Number.isSafeInteger(value[0]) ||
    typeof value[1] !== 'string'
  ) {
    throw badCursor('not a session position');
  }
  return { createdMs: value[0] as number, sessionId: value[1] };
}

/** The cursor after the wallet `walletId`. */
export const walletCursor = (walletId: string): string => encode(['w', walletId]);

/** The wallet id a wallet cursor names (`QUORATE_E_BAD_REQUEST` if malformed). */
export function parseWalletCursor(cursor: string): string {
  const value = decode(cursor);
  if (!Array.isArray(value) || value.length !== 2 || value[0] !== 'w') {
    throw badCursor('not a wallet position');
  }
  if (typeof value[1] !== 'string') throw badCursor('not a wallet position');
  return value[1];
}

/** Checks a page query's limit and decodes its cursor, before any read. */
export function sessionPageStart(query: SessionPageQuery): SessionPosition | undefined {
  checkPageLimit(query.limit);
  return query.cursor === undefined ? undefined : parseSessionCursor(query.cursor);
}

/** True iff `s` matches the page query's filters. */
export const matchesPage = (s: SessionRecord, query: SessionPageQuery): boolean =>
  (query.walletId === undefined || s.walletId === query.walletId) &&
  (query.status === undefined || s.status === query.status);

/** True iff retention may remove `s` when everything counted before `beforeMs` goes. */
export const retainable = (s: SessionRecord, beforeMs: number): boolean =>
  isTerminal(s.status) && s.createdMs < beforeMs && countedAtMs(s) < beforeMs;

/** Orders (createdMs, sessionId) positions ascending. */
export function comparePositions(a: SessionPosition, b: SessionPosition): number {
  if (a.createdMs !== b.createdMs) return a.createdMs - b.createdMs;
  return a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0;
}

/** The `QUORATE_E_INTENT_ARCHIVED` answer for a request on an archived intent (its tombstone). */
export function intentArchived(
  record: SessionRecord,
  lockedSessionId: string,
  lockedMessageHash: string,
): QuorateError {
  return new QuorateError(
    'QUORATE_E_INTENT_ARCHIVED',
    'this intentKey belongs to a finished session that was archived; it is never signed again',
    {
      walletId: record.walletId,
      intentKey: record.intentKey,
      sessionId: lockedSessionId,
      sameMessage: lockedMessageHash === record.messageHash,
    },
  );
}

/**
 * The page of the first `limit` of `fetched` (a read of up to `limit + 1` items), with a cursor
 * after its last item iff the read found more.
 */
export function pageOf<T>(fetched: T[], limit: number, cursorAfter: (item: T) => string): Page<T> {
  const items = fetched.slice(0, limit);
  const last = items[items.length - 1];
  return fetched.length > limit && last !== undefined
    ? { items, nextCursor: cursorAfter(last) }
    : { items };
}

/** The cursor after a versioned session. */
export const afterSession = (s: { value: SessionPosition }): string => sessionCursor(s.value);

/** A wallet page from a read of up to `limit + 1` wallets in id order. */
export const walletPage = (wallets: WalletRecord[], limit: number): Page<WalletRecord> =>
  pageOf(wallets, limit, (w) => walletCursor(w.walletId));
