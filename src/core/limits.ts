/**
 * Every bound in Quorate lives here, unit last, one section per capability. Relations between
 * limits are asserted at module load (at the end of this file), so a bad edit fails at
 * start-up, not in production. `limits` gathers the sections of the signing runtime (API,
 * sessions, governance, party, transport, store, processes, simulator) under one name; the
 * policy lab, the rule engine, the chaos harness and its fault layer have their own.
 */
import { assert } from './assert.ts';

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;

/** HTTP API and wallets (src/api): request sizes, identifiers, principals. */
export const apiLimits = {
  partiesMax: 16,
  partyIdLengthMax: 64,
  walletsMax: 100_000,
  httpBodyBytesMax: 256 * 1024,
  messageBytesMax: 64 * 1024,
  intentKeyLengthMax: 128,
  contextFieldLengthMax: 256,
  apiTokenLengthMin: 16,
  // API principals (src/api/principals.ts): named bearer tokens, the initiator of a request
  apiPrincipalsMax: 256,
  apiTokensFileBytesMax: 64 * 1024,
  // Per-party enrolment tokens (POST /v1/parties/{id}/enrolment): lifetime and random bytes
  enrolmentTtlSecondsDefault: 24 * 3_600,
  enrolmentTtlSecondsMax: 30 * 24 * 3_600,
  enrolmentTokenBytes: 32,
} as const;

/** Coordinator and sessions (src/coordinator, src/session): deadlines, attempts, rounds. */
export const sessionLimits = {
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
  // Keygen
  keygenDeadlineMs: 30_000,
  keygensActiveMax: 64,
  // Key lifecycle (docs/key-lifecycle.md): an operation's deadline (default and most a caller
  // may ask), how many run at once, how many ended ones a wallet record keeps, the test
  // signature's share of the deadline, how often a retired share's holder is told again while
  // it is connected, and for how long after the flip it is.
  lifecycleDeadlineMsDefault: 60_000,
  lifecycleDeadlineMsMax: 300_000,
  lifecyclesActiveMax: 16,
  walletOperationsKeptMax: 8,
  lifecycleTestSignMsMax: 10_000,
  lifecycleRetireResendMs: 1_000,
  lifecycleRetireMsMax: 7 * 24 * 3_600_000,
  // Operation ends told at once (the rest wait in their records for the sweep).
  lifecycleTellingsMax: 10_000,
  // Lifecycle record writes that lose their compare-and-set to another writer are re-read and
  // tried again at most this many times.
  lifecycleCasTriesMax: 8,
  // `quorate wallet`: one API request's time, and how often `--wait` polls the operation.
  cliRequestMsMax: 30_000,
  cliOperationPollsMax: 6_000,
  // The sweep that ends operations whose replica died: one page of wallets this often, and how
  // long past its deadline a running operation waits before another replica rolls it back.
  lifecycleSweepMs: 1_000,
  lifecycleTakeoverGraceMs: 2_000,
  // Scheduled refresh (refreshEveryDays): the longest interval, the back-off after a refresh that
  // could not start or rolled back (doubling from min to max), and the wallets with a metric series.
  refreshEveryDaysMax: 3_650,
  refreshBackoffMsMin: 60_000,
  refreshBackoffMsMax: 3_600_000,
  refreshScheduleSeriesMax: 10_000,
  // Threshold ECDSA (DKLs23): key generation is slow (10 s for 2-of-3, 31 s for 3-of-5 of CPU
  // on 2 cores, ../shared/notes/dkls23-wasm.md) and ends with a test signature by every
  // t-subset, so its deadline is its own, and n is kept where the subsets stay few.
  ecdsaKeygenDeadlineMs: 180_000,
  ecdsaPartiesMax: 6,
  // C(6, 3): every t-subset of at most ecdsaPartiesMax parties.
  ecdsaSubsetsMax: 20,
  // BIP32 paths of derived ecdsa keys (m/0/7): levels and characters.
  derivationDepthMax: 8,
  derivationPathLengthMax: 96,
  // The engine's worker thread (src/party/dkls23-worker.ts): calls queued to it, how long it
  // waits for random bytes from the main thread, and the largest draw (getRandomValues' own).
  dkls23CallsPendingMax: 256,
  dkls23RandomWaitMsMax: 10_000,
  dkls23RandomDrawBytesMax: 65_536,
  // Cleanup: every aborted attempt is released everywhere within this (ARCHITECTURE §3 step 11)
  abortCleanupMsMax: 5_000,
  blameCooldownMsDefault: 600_000,
  // Hedged first round (issue 13 part 2, tasks H3, H6): extra parties each attempt asks for
  // round-1 commitments besides its quorum: every eligible one (n - t), up to this many. Each
  // costs at most one nonce and two to four envelopes per signature (sign-start, discard, the
  // discard repeated, a commitment if its grace below passed); n - t of them cover any minority
  // cut (chaos minority-partition cuts two of five parties at once: one extra left a 1 s round
  // deadline and a second attempt).
  hedgeExtraPartiesMax: 4,
  // A party asked as one of those extras waits a grace before it draws a nonce: a backup
  // request served at lower priority ("The Tail at Scale", Dean and Barroso, 2013). The discard
  // that follows once the quorum has answered usually arrives first, and then the extra costs
  // no nonce, no journal write and no CPU taken from the signers. The grace is twice the 90th
  // percentile of how long those discards took to arrive (the last `hedgeGraceSamples`), within
  // [min, max]: when a quorum party is cut, the attempt waits that much longer for the extra,
  // against round deadlines of 1 s or more.
  hedgeExtraGraceMsInitial: 20,
  hedgeExtraGraceMsMin: 20,
  hedgeExtraGraceMsMax: 250,
  hedgeGraceSamples: 64,
} as const;

/** Signing-time governance on the coordinator: rule files, approvals, velocity. */
export const governanceLimits = {
  approvalDeadlineMsDefault: 600_000,
  approvalDeadlineMsMax: 86_400_000,
  approvalsPerSessionMax: 32,
  // Sessions one replica holds waiting for approvals (each holds a runner and a timer, no party).
  sessionsAwaitingApprovalMax: 16_384,
  // Tries of one approval when another replica claims the session, or its runner loses it,
  // meanwhile (src/coordinator/approvals.ts).
  approvalSubmitTriesMax: 3,
  // Sessions of one wallet inside the longest velocity window that one evaluation reads from the
  // store's per-wallet index; a wallet with more is denied (velocity-unavailable), never
  // under-counted. Bounds the memory and time of one evaluation.
  velocityWalletSessionsMax: 20_000,
  policyFileBytesMax: 1024 * 1024,
} as const;

/** The party runtime (src/party). */
export const partyLimits = {
  partySessionTtlMs: 65_000,
  partySessionsActiveMax: 4_096,
  // A party closes (and redials) a connection on which the coordinator has sent nothing for
  // this many of its heartbeat intervals, within [min, max]: a coordinator that died behind a
  // partition leaves a half-open connection whose FIN never arrives (found by
  // `quorate sim --combined --seed 279`). 5 beats = the coordinator's own down-after default.
  partyCoordinatorSilenceBeats: 5,
  partyCoordinatorSilenceMsMin: 1_000,
  // Issue 13 (scale of parties): 5 beats of the slowest heartbeat class a party may announce.
  partyCoordinatorSilenceMsMax: 600_000,
  // Messages one session may queue while its role computes a step asynchronously.
  partyInboxMessagesMax: 64,
  // Messages the handling of one frame may send (held until its journal commit): a key
  // generation round sends one per peer, a refusal one.
  partyOutboxMessagesMax: 1_024,
  // One-time secrets one role may hold over its life (FROST: one).
  secretsPerRoleMax: 16,
  // A party's reconnect backoff starts over only after a connection stayed open this long: a
  // coordinator that accepts the socket and then refuses the hello must not reset it (issue 12
  // finding 7: a refused party redialled ~8 times a second forever).
  partyReconnectStableMs: 10_000,
} as const;

/** Transport (src/transport): frames, queues, handshakes, reconnects, heartbeats. */
export const transportLimits = {
  frameBytesMax: 1024 * 1024,
  outboundQueueFramesMax: 8_192,
  envelopeSeenPerSessionMax: 1_024,
  handshakeMsMax: 5_000,
  reconnectDelayMsMin: 100,
  reconnectDelayMsMax: 5_000,
  // --- Issue 13, scale of parties (helper H2): connections, handshakes, heartbeats. ---
  // Registered party links: a retail wallet has one mobile party per user, so 10 000 connected
  // parties with margin (bench/parties-bench.ts measures 10 000; docs/scale-parties.md).
  connectionsMax: 16_384,
  // Connections claiming one party id at once (handshaking + registered): a proven newer one
  // replaces the registered one, so squatters on an id cannot lock its owner out.
  connectionsPerPartyMax: 2,
  // Connections not yet authenticated (no hello proven): registered links cannot use them up.
  // Enough for a reconnect storm of thousands of parties to proceed a few hundred at a time.
  handshakesPendingMax: 512,
  // Peer identity keys kept parsed for envelope verification (cleared when full): at least one
  // per registered link, or every heartbeat of a large fleet would parse its key again.
  identityKeysCachedMax: 16_384,
  // FROST identifiers derived from party ids, kept (src/protocol/frost.ts; cleared when full).
  frostIdentifiersCachedMax: 16_384,
  // Heartbeats, which feed the failure detector (src/detector). The coordinator's own interval
  // (`--heartbeat-ms`) is within [min, max]; it is also the fastest it pings any party.
  heartbeatIntervalMsDefault: 1_000,
  heartbeatIntervalMsMin: 50,
  heartbeatIntervalMsMax: 10_000,
  // A party may announce a slower heartbeat class in its hello (`quorate party --heartbeat-ms`,
  // e.g. a mobile every 30 s), up to this; or `on-demand`: no detector heartbeat, alive while
  // connected, probed when about to be chosen, and kept alive every `heartbeatOnDemandKeepaliveMs`
  // so a half-open link still dies (src/coordinator/party-registry.ts).
  partyHeartbeatMsMax: 120_000,
  heartbeatOnDemandKeepaliveMs: 120_000,
  // An on-demand party not heard from for this long is probed when it is a quorum candidate.
  heartbeatOnDemandProbeAfterMs: 10_000,
  // The heartbeat wheel turns this many times per coordinator interval and new links are spread
  // over its slots, so 1 000 backends get 100 pings every 100 ms, not 1 000 in one burst that
  // blocks the event loop (and every request) for a tenth of a second.
  heartbeatSpreadSlots: 10,
  // How often each coordinator replica checks its registered parties' pins in the store, so a
  // revoke or unpin served by another replica closes the link here too (one listParties read,
  // at most storePartyRecordsMax rows; skipped while no party is connected).
  partyPinSweepMs: 2_000,
  // --- end of issue 13, scale of parties ---
  // --- Issue 13, scale of parties (task H5): /metrics stays bounded at 10 000 parties. ---
  // Parties with their own `quorate_party_state{party,state}` series (three each, one per
  // state): the first to change state; every party counts in `quorate_parties{state}`.
  partyStateSeriesMax: 256,
} as const;

/**
 * The wire contract (src/transport/wire.ts): strings no other limit covers. Not spread into
 * `limits`, where a name like `reasonLengthMax` would say too little.
 */
export const wireLimits = {
  /** Connection ids and handshake nonces (the coordinator sends 24 and 32 hex characters). */
  connIdLengthMax: 128,
  /** Wallet ids, keygen ids and policy tiers. */
  walletIdLengthMax: 64,
  tierLengthMax: 64,
  /** Free-text reasons in refuse, discard and reject. */
  reasonLengthMax: 1_024,
  /** An approval's approver id and signature in a sign-start's policy block. */
  approvalFieldLengthMax: 256,
  /** A group public key in a keygen confirmation (ed25519/bip340 32, secp256k1 33, ecdsa 65). */
  publicKeyBytesMax: 65,
} as const;

/** Store and leases (src/store), coordinator replicas, the etcd client. */
export const storeLimits = {
  // Store leases (session ownership). etcd grants whole seconds and never less than ~2 s
  // (1.5 election timeouts, rounded up), so the floor is what every store can honour.
  storeLeaseTtlMsMin: 2_000,
  storeLeaseTtlMsMax: 60_000,
  storeLeasesMax: 1_024,
  // Party ids the store holds a pin or a pending enrolment invitation for (src/store): an admin
  // cannot grow the party table without bound, and expired invitations are dropped first.
  // Issue 13 (scale of parties): room for connectionsMax parties plus as many invitations.
  storePartyRecordsMax: 32_768,
  // Tries of one etcd redeem while the party's pin moves under it (a concurrent revoke).
  partyRedeemTriesMax: 4,
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
  // Scale of history (issue 13, part 3): paged listings, retention, etcd compaction.
  // One page of a store listing; a larger request is refused (QUORATE_E_BAD_REQUEST).
  storePageSizeMax: 500,
  storePageSizeDefault: 100,
  // Index entries one filtered page reads before answering (etcd and memory filter by reading).
  storePageScanMax: 2_000,
  // Cursor text, so a cursor from a request is bounded before it is decoded.
  storeCursorCharsMax: 512,
  // Finished sessions older than this are archived and removed (0 disables). Never shorter than
  // the longest velocity window (30 days) plus a day, or velocity would stop counting them.
  retentionDaysDefault: 35,
  retentionDaysMin: 31,
  retentionDaysMax: 3_650,
  // One retention pass: sessions per batch, batches per pass, and the pause between passes.
  retentionBatchSessionsMax: 500,
  retentionBatchesPerPassMax: 20,
  retentionIntervalMsDefault: 60_000,
  // etcd revisions kept behind the head when the retention pass compacts.
  etcdCompactKeepRevisions: 10_000,
  // Task H4 (scale benchmark): unconditional txns one bulk history import keeps in flight.
  etcdImportTxnsInFlightMax: 8,
  // Task H4: earlier leases of this replica the takeover scan remembers having revoked (one per
  // lease lost in this process's life; forgetting one costs at most a second revoke call).
  ownLeasesRevokedMax: 64,
} as const;

/** Processes and the CLI: graceful shutdown, start-up waits, polling. */
export const processLimits = {
  shutdownMsMax: 5_000,
  startupWaitMsMax: 30_000,
  // Stdout kept while waiting for a process's start-up line (the line is far shorter).
  startupOutputBytesMax: 4_096,
  // The coordinator's sealed metadata file (src/coordinator/meta-store.ts): a few short values.
  coordinatorMetaFileBytesMax: 16_384,
  coordinatorMetaValueBytesMax: 1_024,
  // The scrypt cost a stored shared coordinator identity may ask for: a damaged or hostile record
  // must not make every replica allocate gigabytes at start-up (ours: N=2^15, r=8, p=1, 32 MiB).
  sharedIdentityScryptNMax: 2 ** 17,
  sharedIdentityScryptRMax: 16,
  sharedIdentityScryptPMax: 4,
  pollIntervalMs: 50,
  // The shared party secret (--party-secret): a captured hello carries HMAC(secret, …), so a
  // short secret falls to an offline guess (issue 12 finding 6). 24 characters and 8 distinct
  // ones refuse the README's old example and keyboard walks, not generated secrets.
  partySecretLengthMin: 24,
  partySecretDistinctCharsMin: 8,
  // PEM files (--tls-cert, --tls-key, --tls-ca, --etcd-*), operator key files and party
  // certificates and identity requests: a few KiB each.
  tlsFileBytesMax: 256 * 1024,
  operatorFileBytesMax: 16_384,
} as const;

/** Seeded randomness (src/core/seeded-random.ts) and the deterministic simulator (src/sim). */
export const simLimits = {
  // Largest single `bytes()` draw from a seeded stream.
  seededBytesMax: 1024 * 1024,
  // Every queue and loop the simulator owns is bounded
  simStepsMax: 2_000_000,
  simTimersPendingMax: 100_000,
  simLinkFramesInFlightMax: 1_024,
  simHeldFramesMax: 1_024,
  simJournalOpsMax: 200_000,
  simHistoryEventsMax: 100_000,
  simRequestRetriesMax: 16,
  // Of those, tries after a retryable failure (the same intent and message asked again).
  simFailedRetriesMax: 3,
  // Polls of a session waiting for approvals, per try, 100 ms apart: 60 s, more than an
  // approval window plus the longest signing deadline.
  simAwaitingPollsMax: 600,
  // Tries per approval, simApproveRetryDelayMs apart: enough to span a coordinator outage of the
  // nemeses' longest fault window (5 s).
  simApproveTriesMax: 16,
  simApproveRetryDelayMs: 400,
  // How long a governed session waits for approvals in the simulator: long enough for approvals
  // given through a fault window, short enough that a withheld approval times out in the run.
  simApprovalWindowMs: 4_000,
  // A simulated refresh or reshare's deadline (a real one's default is lifecycleDeadlineMsDefault).
  simLifecycleDeadlineMs: 6_000,
  // A refused simulated operation is asked again this much later, at most this many times.
  simLifecycleRetryMs: 700,
  simLifecycleTriesMax: 6,
  simSeedsMax: 1_000_000,
} as const;

/** Every bound of the signing runtime, the sections above under one name. */
export const limits = {
  ...apiLimits,
  ...sessionLimits,
  ...governanceLimits,
  ...partyLimits,
  ...transportLimits,
  ...storeLimits,
  ...processLimits,
  ...simLimits,
} as const;

/**
 * The policy lab (src/policy). They keep every enumeration, simulation and parse finite and
 * small enough for a CLI answer in seconds.
 */
export const policyLimits = {
  /** Largest policy file accepted, in UTF-16 code units of text. */
  policyTextCharsMax: 1024 * 1024,
  /** Shares declared in one file. */
  sharesMax: 64,
  /** Groups declared in one file. */
  groupsMax: 64,
  /** Policies declared in one file. */
  policiesMax: 256,
  /** Shares in one policy (one wallet cannot have more parties than the coordinator allows). */
  sharesPerPolicyMax: apiLimits.partiesMax,
  /** Groups (after closure, ignoring perfect ones) one exact evaluation enumerates: 2^20 states. */
  groupsPerPolicyMax: 20,
  /** Identifier length for shares, groups, policies and domains. */
  idLengthMax: 64,
  /** Candidate pool of the recommender and the heatmap. */
  candidatePoolMax: 16,
  /** Largest n the recommender and the heatmap enumerate. */
  placementSharesMax: 8,
  /** Group states summed over all enumerated placements (work bound of recommend/heatmap). */
  placementGroupStatesMax: 50_000_000,
  /** Default n range of the recommender (issue: 3 to 5). */
  recommendSharesMinDefault: 3,
  recommendSharesMaxDefault: 5,
  /** Default largest n of the analyze heatmap (issue: all t-of-n for n <= 5). */
  heatmapSharesMaxDefault: 5,
  /** Frontier picks printed by the recommender. */
  recommendPicksMax: 12,
  /** Nines are capped here: below 1e-15 unavailability doubles cannot resolve 1 - U. */
  ninesMax: 15,
  /** Monte Carlo months: default, minimum (100 batches) and maximum per policy. */
  monteCarloMonthsDefault: 20_000,
  monteCarloMonthsMin: 100,
  monteCarloMonthsMax: 2_000_000,
  /** Batches for the batch-means confidence interval. */
  monteCarloBatches: 100,
  /** Events processed in one Monte Carlo run before it gives up (bounds the main loop). */
  monteCarloEventsMax: 2_000_000_000,
  /** Months simulated and discarded before measuring, so non-exponential outages reach steady state. */
  monteCarloWarmupMonths: 1,
  /** Progress callback period, in simulated months. */
  monteCarloProgressMonths: 50_000,
  /** Repair time assumed for components given only `availability` when simulated. */
  mttrHoursDefault: 1,
  /** Smallest MTTF/MTTR/window length accepted, in hours (36 s): bounds events per month. */
  durationHoursMin: 0.01,
  /** Largest MTTF/MTTR/period accepted, in hours (about 114 years). */
  durationHoursMax: 1_000_000,
  /** Telemetry text and line bounds. */
  telemetryCharsMax: 256 * 1024 * 1024,
  telemetryLinesMax: 2_000_000,
  telemetryPartiesMax: 64,
} as const;

/** The policy lab's month: 30 days, in hours. */
export const monthHours = 720;
/** The policy lab's month in minutes (43 200). */
export const monthMinutes = monthHours * 60;

/**
 * The signing-time rule engine (src/policy/rules). They keep a rule file, one evaluation and one
 * velocity computation small and finite.
 */
export const ruleLimits = {
  /** Tiers (rule sets) in one file. */
  tiersMax: 64,
  /** Wallet → tier bindings in one file. */
  walletBindingsMax: 10_000,
  /** Rules in one tier. */
  rulesPerTierMax: 64,
  /** Characters of one CEL condition; bounds parse depth. */
  conditionCharsMax: 2_000,
  /**
   * Worst-case evaluation steps of one condition, and of all conditions of one tier (one
   * request evaluates every rule of its tier), estimated at load (cel-cost.ts). A `destination
   * in lists.allowed` over a full 10 000-entry list costs ≈10 000; `exists` over it ≈80 000.
   */
  conditionCostMax: 100_000,
  tierCostMax: 250_000,
  /** Named approvers in one file, and approvers in one approval group. */
  approversMax: 64,
  /** Assets declared in one file. */
  assetsMax: 256,
  /** Decimals of an asset: 10^18 is the largest power of ten below 2^63. */
  assetDecimalsMax: 18,
  /** Named lists, and entries per list (allowlists of destinations). */
  listsMax: 64,
  listEntriesMax: 10_000,
  /** Length of one list entry (a destination address), as for request context fields. */
  listEntryCharsMax: apiLimits.contextFieldLengthMax,
  /** Velocity limits on one rule. */
  velocityLimitsPerRuleMax: 8,
  /** Shortest and longest velocity window. */
  velocityWindowMsMin: 60_000,
  velocityWindowMsMax: 30 * dayMs,
  /** Counted events one evaluation reads; beyond it the request is denied (fail closed). */
  velocityEventsMax: 1_000_000,
  /** Signed approvals one check reads. */
  approvalsPerCheckMax: 256,
} as const;

/** Windows exposed to CEL as `velocity.count<name>` and `velocity.amount<name>`. */
export const celVelocityWindows = [
  { name: '1h', windowMs: hourMs },
  { name: '24h', windowMs: dayMs },
  { name: '7d', windowMs: 7 * dayMs },
  { name: '30d', windowMs: 30 * dayMs },
] as const;

/** Largest int64 (CEL `int`): amounts and sums saturate here. */
export const int64Max = 2n ** 63n - 1n;

/** The chaos harness on real processes (src/chaos), which may use the real clock. */
export const chaosLimits = {
  durationSMin: 5,
  durationSMax: 3_600,
  ratePerSMax: 50,
  requestsMax: 20_000,
  inFlightMax: 512,
  requestDeadlineMs: 8_000,
  requestTriesMax: 16,
  retryDelayMs: 500,
  pollIntervalMs: 100,
  monitorIntervalMs: 100,
  observeIntervalMs: 250,
  progressIntervalMs: 1_000,
  /** No fault in the first/last this many ms: warm-up, then time to heal and recover. */
  warmupMs: 3_000,
  tailMs: 4_000,
  /** After the last request: time for cleanup (ARCHITECTURE §3 step 11) to show. */
  settleMs: 6_000,
  startupWaitMs: 60_000,
  commandTimeoutMs: 10_000,
  historyEventsMax: 500_000,
  partiesMax: 5,
  /** Slack the checker allows on each time bound for real processes on a busy 2-core box. */
  checkToleranceMs: 1_500,
} as const;

/** The fault layer the chaos harness wraps around a process's Env and links. */
export const faultLimits = {
  latencyMsMax: 10_000,
  jitterMsMax: 10_000,
  clockOffsetMsMax: 86_400_000,
  controlFileBytesMax: 4_096,
  /** How often the control file is re-read. */
  controlFilePollMs: 200,
} as const;

// Coordinator and sessions
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
// Transport
assert(limits.reconnectDelayMsMin <= limits.reconnectDelayMsMax, 'reconnect bounds ordered');
assert(limits.connectionsPerPartyMax >= 2, 'a party can replace its registered link');
assert(limits.handshakesPendingMax <= limits.connectionsMax, 'handshakes within connections');
// Issue 13, scale of parties (helper H2)
assert(limits.identityKeysCachedMax >= limits.connectionsMax, 'every link keeps its parsed key');
assert(limits.storePartyRecordsMax >= limits.connectionsMax, 'every link can be a pinned party');
assert(
  limits.partyHeartbeatMsMax >= limits.heartbeatIntervalMsMax,
  'a party class is at least as slow as the slowest coordinator heartbeat',
);
assert(
  limits.heartbeatOnDemandKeepaliveMs <= limits.partyHeartbeatMsMax,
  'an on-demand keepalive is no rarer than the slowest class',
);
assert(
  limits.partyCoordinatorSilenceMsMax >=
    limits.partyCoordinatorSilenceBeats * limits.partyHeartbeatMsMax,
  'a party of the slowest class waits its silence beats before closing',
);
assert(
  limits.partyCoordinatorSilenceMsMax > limits.heartbeatOnDemandKeepaliveMs,
  'an on-demand party hears a keepalive before its silence watchdog fires',
);
assert(limits.enrolmentTtlSecondsDefault <= limits.enrolmentTtlSecondsMax, 'enrolment ttl');
assert(wireLimits.reasonLengthMax < transportLimits.frameBytesMax, 'a reason fits in a frame');
// Store and leases
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
// Sections are disjoint: `limits` would silently keep the last of two equal names.
assert(
  Object.keys(limits).length ===
    [
      apiLimits,
      sessionLimits,
      governanceLimits,
      partyLimits,
      transportLimits,
      storeLimits,
      processLimits,
      simLimits,
    ].reduce((sum, section) => sum + Object.keys(section).length, 0),
  'no limit is in two sections',
);
// Policy lab
assert(policyLimits.sharesPerPolicyMax <= 30, 'share masks fit in 31-bit integers');
assert(policyLimits.groupsPerPolicyMax <= 30, 'group masks fit in 31-bit integers');
assert(
  policyLimits.placementSharesMax <= policyLimits.sharesPerPolicyMax,
  'placements are policies',
);
assert(policyLimits.candidatePoolMax <= policyLimits.sharesMax, 'pool within shares');
assert(policyLimits.heatmapSharesMaxDefault <= policyLimits.placementSharesMax, 'heatmap n bound');
assert(
  policyLimits.recommendSharesMaxDefault <= policyLimits.placementSharesMax,
  'recommend n bound',
);
assert(policyLimits.monteCarloMonthsMin >= policyLimits.monteCarloBatches, 'a batch has a month');
assert(
  policyLimits.monteCarloMonthsDefault <= policyLimits.monteCarloMonthsMax,
  'MC default in range',
);
assert(policyLimits.durationHoursMin > 0, 'durations are positive');
// Rule engine
assert(ruleLimits.velocityWindowMsMin < ruleLimits.velocityWindowMsMax, 'window range');
assert(
  limits.velocityWalletSessionsMax <= ruleLimits.velocityEventsMax,
  'every session a velocity read returns is an event the rule engine accepts',
);
assert(
  celVelocityWindows.every((w) => w.windowMs <= ruleLimits.velocityWindowMsMax),
  'CEL windows within the retention window',
);
assert(10n ** BigInt(ruleLimits.assetDecimalsMax) <= int64Max, 'one unit fits in an int64');
assert(ruleLimits.listEntryCharsMax > 0, 'list entries hold something');
// Chaos harness and fault layer
assert(chaosLimits.durationSMin <= chaosLimits.durationSMax, 'chaos durations ordered');
assert(chaosLimits.partiesMax <= apiLimits.partiesMax, 'a chaos cluster is a valid wallet');
assert(faultLimits.controlFilePollMs > 0, 'the control file is polled');
// Scale of history (issue 13, part 3)
assert(
  limits.storePageSizeDefault <= limits.storePageSizeMax &&
    limits.storePageSizeMax <= limits.storePageScanMax,
  'a page fits in one scan',
);
assert(
  limits.retentionDaysMin * dayMs > ruleLimits.velocityWindowMsMax,
  'retention never removes a session a velocity window still counts',
);
assert(
  limits.retentionDaysMin <= limits.retentionDaysDefault &&
    limits.retentionDaysDefault <= limits.retentionDaysMax,
  'retention default in range',
);
