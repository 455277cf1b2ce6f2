/**
 * Every bound in Quorate lives here, unit last. Relations between limits are asserted at
 * module load so a bad edit fails at start-up, not in production.
 */
import { assert } from './assert.ts';

export const limits = {
  // Wallets and parties
  partiesMax: 16,
  partyIdLengthMax: 64,
  walletsMax: 100_000,
  // Requests
  httpBodyBytesMax: 256 * 1024,
  messageBytesMax: 64 * 1024,
  intentKeyLengthMax: 128,
  contextFieldLengthMax: 256,
  apiTokenLengthMin: 16,
  // API principals (src/api/principals.ts): named bearer tokens, the initiator of a request
  apiPrincipalsMax: 256,
  apiTokensFileBytesMax: 64 * 1024,
  // Session deadlines
  sessionDeadlineMsDefault: 30_000,
  sessionDeadlineMsMax: 60_000,
  sessionDeadlineMsMin: 100,
  waitMsDefault: 30_000,
  waitMsMax: 60_000,
  attemptsPerSessionMax: 16,
  // A failed intent retried with the same key and message reopens its session: every try gets
  // attemptsPerSessionMax, and the record's attempt history over all tries is capped here.
  attemptsPerIntentMax: 64,
  // Tries to reopen a failed session whose version moves under us (a concurrent retry).
  reopenTriesMax: 4,
  sessionsActiveMax: 4_096,
  // Round deadlines (adaptive between floor and cap)
  roundTimeoutMsFloor: 1_000,
  roundTimeoutMsCap: 10_000,
  roundTimeoutMsDefault: 3_000,
  // Signing-time policy engine
  approvalDeadlineMsDefault: 600_000,
  approvalDeadlineMsMax: 86_400_000,
  approvalsPerSessionMax: 32,
  velocitySessionsScanMax: 20_000,
  policyFileBytesMax: 1024 * 1024,
  // Keygen
  keygenDeadlineMs: 30_000,
  keygensActiveMax: 64,
  // Cleanup
  abortCleanupMsMax: 5_000,
  partySessionTtlMs: 65_000,
  partySessionsActiveMax: 4_096,
  // Transport
  frameBytesMax: 1024 * 1024,
  outboundQueueFramesMax: 8_192,
  envelopeSeenPerSessionMax: 1_024,
  handshakeMsMax: 5_000,
  reconnectDelayMsMin: 100,
  reconnectDelayMsMax: 5_000,
  connectionsMax: 256,
  // Peer identity keys kept parsed for envelope verification (cleared when full).
  identityKeysCachedMax: 4_096,
  // Heartbeats and the failure detector
  heartbeatIntervalMsDefault: 1_000,
  heartbeatIntervalMsMin: 50,
  heartbeatIntervalMsMax: 10_000,
  // A party closes (and redials) a connection on which the coordinator has sent nothing for
  // this many of its heartbeat intervals, within [min, max]: a coordinator that died behind a
  // partition leaves a half-open connection whose FIN never arrives (found by
  // `quorate sim --combined --seed 279`). 5 beats = the coordinator's own down-after default.
  partyCoordinatorSilenceBeats: 5,
  partyCoordinatorSilenceMsMin: 1_000,
  partyCoordinatorSilenceMsMax: 60_000,
  blameCooldownMsDefault: 600_000,
  // Graceful shutdown
  shutdownMsMax: 5_000,
  // Demo / CLI waits
  startupWaitMsMax: 30_000,
  pollIntervalMs: 50,
  // Deterministic simulator (src/sim): every queue and loop it owns is bounded
  simStepsMax: 2_000_000,
  simTimersPendingMax: 100_000,
  simLinkFramesInFlightMax: 1_024,
  simHeldFramesMax: 1_024,
  simJournalOpsMax: 200_000,
  simHistoryEventsMax: 100_000,
  simRequestRetriesMax: 16,
  // Of those, tries after a retryable failure (the same intent and message asked again).
  simFailedRetriesMax: 3,
  simSeedsMax: 1_000_000,
  // Store leases (session ownership). etcd grants whole seconds and never less than ~2 s
  // (1.5 election timeouts, rounded up), so the floor is what every store can honour.
  storeLeaseTtlMsMin: 2_000,
  storeLeaseTtlMsMax: 60_000,
  storeLeasesMax: 1_024,
  // Coordinator replicas (src/coordinator/replica-lease.ts). ttl 3 s: one etcd leader election
  // (~1-2 s with etcd's 1 s election timeout) does not cost a replica its lease, and a dead
  // owner's sessions are claimable ~3-4 s after its last renewal (failover goal 5 s).
  // Renewal every ttl/3; every replica scans for claimable sessions every 500 ms.
  coordinatorLeaseTtlMsDefault: 3_000,
  coordinatorLeaseScanMsDefault: 500,
  coordinatorLeaseAcquireAttemptsMax: 10,
  // etcd client (src/store/etcd.ts)
  etcdEndpointsMax: 16,
  etcdRequestTimeoutMs: 2_000,
  etcdRequestAttemptsMax: 6,
  etcdRetryDelayMsMin: 50,
  etcdRetryDelayMsMax: 1_000,
  // etcd's own defaults: --max-txn-ops=128, --max-request-bytes=1.5 MiB
  etcdTxnOpsMax: 128,
  etcdRequestBytesMax: 1_536 * 1024,
  etcdResponseBytesMax: 64 * 1024 * 1024,
  etcdVersionCacheEntriesMax: 8_192,
} as const;

assert(
  limits.sessionDeadlineMsDefault <= limits.sessionDeadlineMsMax,
  'default deadline within max',
);
assert(limits.waitMsDefault <= limits.waitMsMax, 'default wait within max');
assert(limits.attemptsPerIntentMax >= limits.attemptsPerSessionMax, 'an intent has a try budget');
assert(limits.roundTimeoutMsFloor <= limits.roundTimeoutMsDefault, 'round floor <= default');
assert(limits.roundTimeoutMsDefault <= limits.roundTimeoutMsCap, 'round default <= cap');
assert(limits.roundTimeoutMsCap < limits.sessionDeadlineMsDefault, 'a round fits in a session');
assert(limits.partySessionTtlMs > limits.sessionDeadlineMsMax, 'party TTL outlives any deadline');
assert(limits.messageBytesMax * 2 + 4096 < limits.httpBodyBytesMax, 'hex message fits in body');
assert(limits.reconnectDelayMsMin <= limits.reconnectDelayMsMax, 'reconnect bounds ordered');
assert(limits.storeLeaseTtlMsMin <= limits.storeLeaseTtlMsMax, 'lease ttl bounds ordered');
assert(
  limits.etcdRequestTimeoutMs <= limits.storeLeaseTtlMsMin,
  'one etcd request cannot outlive the shortest lease',
);
assert(
  limits.coordinatorLeaseTtlMsDefault >= limits.storeLeaseTtlMsMin &&
    limits.coordinatorLeaseTtlMsDefault <= limits.storeLeaseTtlMsMax,
  'default replica lease ttl within store limits',
);
assert(
  limits.coordinatorLeaseScanMsDefault < limits.coordinatorLeaseTtlMsDefault,
  'replicas scan for claimable sessions more often than a lease lives',
);
assert(limits.etcdRetryDelayMsMin <= limits.etcdRetryDelayMsMax, 'etcd retry delays ordered');
assert(
  limits.etcdVersionCacheEntriesMax >= limits.sessionsActiveMax,
  'the etcd version cache holds every active session',
);
assert(
  limits.etcdRequestBytesMax > limits.httpBodyBytesMax * 2,
  'a session record with its message fits in one etcd request',
);
