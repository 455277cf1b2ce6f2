/** Prometheus metrics of one coordinator (its own registry, so tests can run several). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { limits } from '../core/limits.ts';

/** The liveness states a party is counted in. */
const partyStates = ['alive', 'suspect', 'down'] as const;

/** The coordinator's metric set. */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  readonly sessionsTotal = new Counter({
    name: 'quorate_sessions_total',
    help: 'Signing sessions that reached a terminal status, by outcome and error code',
    labelNames: ['outcome', 'code'] as const,
    registers: [this.registry],
  });
  readonly attemptsTotal = new Counter({
    name: 'quorate_attempts_total',
    help: 'Signing attempts by outcome (signed, timeout, blame, refused, disconnected, ...)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly sessionSeconds = new Histogram({
    name: 'quorate_session_duration_seconds',
    help: 'Time from session creation to terminal status',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly sessionsActive = new Gauge({
    name: 'quorate_sessions_active',
    help: 'Sessions currently driven by this coordinator',
    registers: [this.registry],
  });
  readonly intentRetriesTotal = new Counter({
    name: 'quorate_intent_retries_total',
    help: 'Failed sessions reopened for a new try because their intent was asked again after a retryable failure',
    registers: [this.registry],
  });
  readonly takeoversTotal = new Counter({
    name: 'quorate_session_takeovers_total',
    help: 'Sessions this replica claimed because their owner held no live store lease',
    registers: [this.registry],
  });
  readonly leaseLostTotal = new Counter({
    name: 'quorate_store_lease_lost_total',
    help: 'Times this replica lost its store lease and stopped driving its sessions',
    registers: [this.registry],
  });
  readonly staleSessionState = new Gauge({
    name: 'quorate_stale_session_state',
    help: 'Session or attempt state held past its deadline plus the cleanup bound (must be 0)',
    registers: [this.registry],
  });
  readonly partyState = new Gauge({
    name: 'quorate_party_state',
    help: `Party liveness: 1 for the current state label, 0 otherwise; only the first ${limits.partyStateSeriesMax} parties to change state (quorate_parties counts every party)`,
    labelNames: ['party', 'state'] as const,
    registers: [this.registry],
  });
  /** Where `quorate_parties` reads its counts at scrape time (the party registry). */
  private partyCounts: (() => Readonly<Record<string, number>>) | undefined;
  /** Parties holding a `quorate_party_state` series (at most partyStateSeriesMax). */
  private readonly partiesWithSeries = new Set<string>();
  readonly parties = new Gauge({
    name: 'quorate_parties',
    help: 'Parties this coordinator knows, by liveness state (alive, suspect, down)',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () => {
      const counts = this.partyCounts?.();
      for (const state of partyStates) this.parties.set({ state }, counts?.[state] ?? 0);
    },
  });
  readonly roundTimeoutMs = new Gauge({
    name: 'quorate_round_timeout_ms',
    help: 'Adaptive round deadline chosen for the most recent round',
    registers: [this.registry],
  });
  readonly walletRefreshAge = new Gauge({
    name: 'quorate_wallet_seconds_since_refresh',
    help: `Seconds since a wallet's shares were last renewed (refresh or reshare), for wallets with a refresh schedule (refreshEveryDays); at most ${limits.refreshScheduleSeriesMax} wallets`,
    labelNames: ['wallet'] as const,
    registers: [this.registry],
  });
  readonly lifecycleOperationsTotal = new Counter({
    name: 'quorate_lifecycle_operations_total',
    help: 'Refreshes and reshares by kind and how they ended (done, failed)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly keygensTotal = new Counter({
    name: 'quorate_keygens_total',
    help: 'Distributed key generations by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly partyConnectionsRefusedTotal = new Counter({
    name: 'quorate_party_connections_refused_total',
    help: 'Party connections refused before registration, by reason (connections-max, handshakes-pending, party-slots, enrolment-denied, invalid-hello)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly partyLinksClosedTotal = new Counter({
    name: 'quorate_party_links_closed_total',
    help: 'Registered party links the coordinator closed, by reason (heartbeat, replaced, unpinned, revoked, pin-changed)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly partyEnrolmentsTotal = new Counter({
    name: 'quorate_party_enrolments_total',
    help: 'Party identities pinned, by how (token, rotate, secret)',
    labelNames: ['method'] as const,
    registers: [this.registry],
  });
  readonly takeoverScanSeconds = new Histogram({
    name: 'quorate_takeover_scan_seconds',
    help: 'Duration of one takeover scan pass (candidates from the store index, then claims)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly takeoverScanLastMs = new Gauge({
    name: 'quorate_takeover_scan_ms',
    help: 'Duration of the most recent takeover scan pass, in ms',
    registers: [this.registry],
  });
  readonly takeoverScanCandidates = new Gauge({
    name: 'quorate_takeover_scan_candidates',
    help: 'Sessions the store returned as takeover candidates in the most recent scan pass',
    registers: [this.registry],
  });
  readonly retentionArchivedTotal = new Counter({
    name: 'quorate_retention_archived_total',
    help: 'Finished sessions retention wrote to the archive (a batch re-archived after a crash counts again)',
    registers: [this.registry],
  });
  readonly retentionRemovedTotal = new Counter({
    name: 'quorate_retention_removed_total',
    help: 'Finished sessions retention removed from the store after archiving them',
    registers: [this.registry],
  });
  readonly retentionPassSeconds = new Histogram({
    name: 'quorate_retention_pass_seconds',
    help: 'Duration of one retention pass (archive, removal and etcd compaction)',
    buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly retentionPassesFailedTotal = new Counter({
    name: 'quorate_retention_passes_failed_total',
    help: 'Retention passes that stopped on an error (the next pass starts again from the oldest)',
    registers: [this.registry],
  });

  /**
   * Sets the one-hot party state gauge of a party that has a series, or gets one while fewer
   * than partyStateSeriesMax parties do: 10 000 parties would otherwise be 30 000 series.
   */
  setPartyState(partyId: string, state: string): void {
    if (!this.partiesWithSeries.has(partyId)) {
      if (this.partiesWithSeries.size >= limits.partyStateSeriesMax) return;
      this.partiesWithSeries.add(partyId);
    }
    for (const s of partyStates)
      this.partyState.set({ party: partyId, state: s }, s === state ? 1 : 0);
  }

  /** Removes a forgotten (unpinned) party's series, freeing its place. */
  forgetPartyState(partyId: string): void {
    if (!this.partiesWithSeries.delete(partyId)) return;
    for (const state of partyStates) this.partyState.remove({ party: partyId, state });
  }

  /** Makes `quorate_parties{state}` read its counts from `count` at each scrape. */
  countPartiesWith(count: () => Readonly<Record<string, number>>): void {
    this.partyCounts = count;
  }
}
