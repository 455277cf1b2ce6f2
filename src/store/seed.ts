/**
 * Synthetic finished history for the scale benchmark (`npm run bench -- scale`) and the store
 * tests: wallets and signed sessions shaped like the ones the coordinator writes, bulk-loaded
 * through each store's own {@link HistoryImporter} (the schema and key layout stay in the store
 * modules). The records are deterministic functions of their index, so two runs seed the same
 * bytes. Nothing here signs: the keys and signatures are placeholders of the right length.
 */
import { createHash } from 'node:crypto';
import { assert } from '../core/assert.ts';
import type { SessionRecord } from '../session/record.ts';
import type { WalletRecord } from './store.ts';

/** One bulk write: wallets and finished sessions, each new to the store. */
export interface HistoryBatch {
  wallets: readonly WalletRecord[];
  sessions: readonly SessionRecord[];
}

/** A store that can load finished history in bulk (SQLite and etcd). */
export interface HistoryImporter {
  /**
   * Writes `batch` as the stores' own writes would have left it: wallets, intent locks,
   * sessions at their final (terminal) state and every index entry. Meant for an offline store
   * (benchmarks, tests), not for a store a coordinator is running on.
   */
  importHistory(batch: HistoryBatch): Promise<void>;
}

/** What to seed. */
export interface SeedPlan {
  wallets: number;
  sessions: number;
  /** Creation times are spread evenly over [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  /** Sessions per {@link HistoryImporter.importHistory} call. */
  batchSessions: number;
  /** Called after each batch with the sessions written so far. */
  onProgress?: (written: number) => void;
}

const walletParties = ['mobile', 'backend', 'guardian'];
const hex = (seed: string, bytes: number): string => {
  let out = '';
  for (let i = 0; out.length < bytes * 2; i++) {
    out += createHash('sha256').update(`${seed}/${i}`).digest('hex');
  }
  return out.slice(0, bytes * 2);
};

/** The `i`-th seeded wallet: a 2-of-3 bip340 wallet record. */
export function seededWallet(i: number, createdMs: number): WalletRecord {
  const walletId = seededWalletId(i);
  const shares = Object.fromEntries(walletParties.map((p) => [p, hex(`${walletId}/${p}`, 33)]));
  return {
    walletId,
    scheme: 'bip340',
    threshold: 2,
    parties: walletParties,
    publicKey: hex(walletId, 32),
    publicPackage: { verifyingKey: hex(`${walletId}/vk`, 33), verifyingShares: shares },
    createdMs,
  };
}

/** The id of the `i`-th seeded wallet (`w_` and 24 hex digits, like a real one). */
export const seededWalletId = (i: number): string => `w_${hex(`wallet/${i}`, 12)}`;

/** The `i`-th seeded session: signed on its first attempt, on wallet `walletId`. */
export function seededSession(i: number, walletId: string, createdMs: number): SessionRecord {
  const sessionId = `s_${hex(`session/${i}`, 12)}`;
  const messageHex = hex(`${sessionId}/message`, 32);
  return {
    sessionId,
    walletId,
    intentKey: `seed-${i}`,
    messageHex,
    messageHash: hex(messageHex, 32),
    status: 'signed',
    createdMs,
    deadlineMs: createdMs + 30_000,
    attempts: [
      {
        attempt: 1,
        token: 1,
        parties: ['mobile', 'backend'],
        asked: walletParties,
        outcome: 'signed',
        startedMs: createdMs + 1,
        endedMs: createdMs + 70,
      },
    ],
    excluded: [],
    slow: [],
    signature: hex(`${sessionId}/signature`, 64),
    signers: ['mobile', 'backend'],
  };
}

/**
 * The states a finished session went through on the coordinator's path, oldest first: created
 * (running, no attempt yet), its attempt started, and `record` itself. A store that keeps every
 * revision (etcd) writes all of them, so the seeded history has the revisions compaction frees;
 * the imported session's version is their number.
 */
export function historyRevisions(record: SessionRecord): SessionRecord[] {
  const { signature: _signature, signers: _signers, error: _error, ...open } = record;
  const created: SessionRecord = { ...open, status: 'running', attempts: [] };
  const started: SessionRecord = {
    ...created,
    attempts: record.attempts
      .slice(0, 1)
      .map(({ endedMs: _ended, ...attempt }) => ({ ...attempt, outcome: 'running' as const })),
  };
  return [created, started, record];
}

/**
 * Seeds `plan.wallets` wallets and `plan.sessions` signed sessions (session `i` on wallet
 * `i mod wallets`, oldest first) in batches of `plan.batchSessions`.
 */
export async function seedHistory(store: HistoryImporter, plan: SeedPlan): Promise<void> {
  assert(plan.wallets > 0 && plan.batchSessions > 0, 'seed plan has wallets and a batch size');
  assert(plan.toMs > plan.fromMs, 'seed plan spans some time');
  const stepMs = (plan.toMs - plan.fromMs) / Math.max(1, plan.sessions);
  const walletIds = Array.from({ length: plan.wallets }, (_, i) => seededWalletId(i));
  let walletsWritten = 0;
  for (let from = 0; from < plan.sessions || walletsWritten < plan.wallets;) {
    const to = Math.min(plan.sessions, from + plan.batchSessions);
    const walletsTo = Math.min(plan.wallets, walletsWritten + plan.batchSessions);
    const wallets: WalletRecord[] = [];
    for (let w = walletsWritten; w < walletsTo; w++) wallets.push(seededWallet(w, plan.fromMs));
    const sessions: SessionRecord[] = [];
    for (let i = from; i < to; i++) {
      const createdMs = Math.floor(plan.fromMs + i * stepMs);
      sessions.push(seededSession(i, walletIds[i % plan.wallets]!, createdMs));
    }
    // Session i uses wallet i mod wallets <= i: written in this batch or an earlier one.
    assert(walletsTo >= Math.min(plan.wallets, to), 'wallet written before its sessions');
    await store.importHistory({ wallets, sessions });
    walletsWritten = walletsTo;
    from = to;
    plan.onProgress?.(to);
  }
}
