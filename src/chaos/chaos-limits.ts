/** Every bound the chaos harness owns (unit last). Its clock, timers and randomness are its Env. */
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

/** The private subnet inside the harness's own namespaces (never routed anywhere). */
export const chaosSubnet = { prefix: '10.213.77', bits: 24 } as const;

/** Every namespace the harness creates is named `${netnsPrefix}<harness pid>-<host>`. */
export const netnsPrefix = 'qchaos-';
