/**
 * Retention: finished sessions (signed or failed) whose counted time is older than the
 * retention are archived to `<archiveDir>/sessions-YYYY-MM-DD.jsonl.gz` (one file per UTC day
 * of the session's counted time) and then removed from the hot store, in bounded batches on the
 * Env's timers.
 *
 * Order, for crash safety: a batch is appended (one gzip member per append) and fsynced, then
 * removed from the store. A crash between the two archives the batch again on the next pass:
 * duplicates are identical lines with the same (sessionId, version), and readers keep one.
 * The intent lock is never removed (the store keeps it as a tombstone), so I1 holds for an
 * archived intent: a new request on it gets `QUORATE_E_INTENT_ARCHIVED`.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { assert } from '../core/assert.ts';
import type { Env, Log } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import type { RetainedSession, Store } from '../store/store.ts';
import { countedAtMs } from '../store/store.ts';
import type { CoordinatorMetrics } from './metrics.ts';

const dayMs = 86_400_000;

/** What retention needs. */
export interface RetentionOptions {
  env: Env;
  store: Store;
  log: Log;
  /** Where the day files go (created 0700 if absent). */
  archiveDir: string;
  /** Finished sessions older than this many days go; 0 disables retention. */
  retentionDays: number;
  intervalMs?: number;
  /** Where each pass's counts and duration go (GET /metrics), when given. */
  metrics?: RetentionMetrics;
}

/** The coordinator metrics retention reports to. */
export type RetentionMetrics = Pick<
  CoordinatorMetrics,
  | 'retentionArchivedTotal'
  | 'retentionRemovedTotal'
  | 'retentionPassSeconds'
  | 'retentionPassesFailedTotal'
>;

/** What one pass did. */
export interface RetentionPass {
  archived: number;
  removed: number;
  /** The etcd revision compacted to, when the store keeps history. */
  compactedRevision?: number;
}

/** Checks `days`: 0 (off) or within limits.retentionDaysMin..Max. */
export function checkRetentionDays(days: number): void {
  assert(
    days === 0 ||
      (Number.isSafeInteger(days) &&
        days >= limits.retentionDaysMin &&
        days <= limits.retentionDaysMax),
    `retention ${days} days: 0 or ${limits.retentionDaysMin}..${limits.retentionDaysMax}`,
  );
}

/** The archive file of a session: the UTC day of its counted time. */
export function archiveFileName(countedMs: number): string {
  return `sessions-${new Date(countedMs).toISOString().slice(0, 10)}.jsonl.gz`;
}

/** Appends `lines` as one gzip member and fsyncs the file (and its directory when new). */
function appendDurably(dir: string, name: string, lines: string[]): void {
  const fd = openSync(join(dir, name), 'a', 0o600);
  try {
    writeSync(fd, gzipSync(Buffer.from(lines.join(''), 'utf8')));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** The retention loop of one coordinator process. */
export class Retention {
  private stopTimer: () => void = () => {};
  private running = false;
  private stopped = false;

  constructor(private readonly options: RetentionOptions) {
    checkRetentionDays(options.retentionDays);
  }

  /** Runs a pass every interval (the first after one interval) until {@link stop}. */
  start(): void {
    if (this.options.retentionDays === 0) return;
    const { env, log } = this.options;
    const intervalMs = this.options.intervalMs ?? limits.retentionIntervalMsDefault;
    const loop = () => {
      if (this.stopped) return;
      this.pass().catch((e: unknown) => log.warn({ error: String(e) }, 'retention pass failed'));
      this.stopTimer = env.setTimer(intervalMs, loop);
    };
    this.stopTimer = env.setTimer(intervalMs, loop);
  }

  stop(): void {
    this.stopped = true;
    this.stopTimer();
  }

  /** One pass: at most `retentionBatchesPerPassMax` batches, then etcd compaction. */
  async pass(): Promise<RetentionPass> {
    const result: RetentionPass = { archived: 0, removed: 0 };
    if (this.running || this.options.retentionDays === 0) return result;
    this.running = true;
    const { env, metrics } = this.options;
    const startedMs = env.monoMs();
    try {
      await this.walk(result);
      return result;
    } catch (error) {
      metrics?.retentionPassesFailedTotal.inc();
      throw error;
    } finally {
      this.running = false;
      metrics?.retentionArchivedTotal.inc(result.archived);
      metrics?.retentionRemovedTotal.inc(result.removed);
      metrics?.retentionPassSeconds.observe((env.monoMs() - startedMs) / 1_000);
    }
  }

  /** The batches of one pass, counted into `result` as they go (a failed pass keeps its counts). */
  private async walk(result: RetentionPass): Promise<void> {
    const { env, store, log } = this.options;
    const beforeMs = env.nowMs() - this.options.retentionDays * dayMs;
    let cursor: string | undefined;
    for (let batch = 0; batch < limits.retentionBatchesPerPassMax && !this.stopped; batch++) {
      const page = await store.listRetainable(beforeMs, cursor, limits.retentionBatchSessionsMax);
      if (page.items.length > 0) {
        this.archive(page.items);
        result.archived += page.items.length;
        result.removed += await store.removeSessions(
          page.items.map(({ session }) => ({
            sessionId: session.value.sessionId,
            version: session.version,
          })),
        );
      }
      if (page.nextCursor === undefined) break;
      cursor = page.nextCursor;
    }
    const compacted = await store.compactHistory?.();
    if (compacted !== undefined) result.compactedRevision = compacted;
    if (result.archived > 0 || compacted !== undefined) {
      log.info({ ...result, beforeMs }, 'retention pass');
    }
  }

  /** Writes `items` to their day files, durably, before anything is removed. */
  private archive(items: readonly RetainedSession[]): void {
    const { archiveDir, env } = this.options;
    mkdirSync(archiveDir, { recursive: true, mode: 0o700 });
    const byFile = new Map<string, string[]>();
    const archivedMs = env.nowMs();
    for (const { session, evidence } of items) {
      const name = archiveFileName(countedAtMs(session.value));
      const line = JSON.stringify({
        sessionId: session.value.sessionId,
        version: session.version,
        archivedMs,
        session: session.value,
        evidence,
      });
      const lines = byFile.get(name) ?? [];
      lines.push(`${line}\n`);
      byFile.set(name, lines);
    }
    for (const [name, lines] of byFile) appendDurably(archiveDir, name, lines);
  }
}
