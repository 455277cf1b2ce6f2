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
  // Session deadlines
  sessionDeadlineMsDefault: 30_000,
  sessionDeadlineMsMax: 60_000,
  sessionDeadlineMsMin: 100,
  waitMsDefault: 30_000,
  waitMsMax: 60_000,
  attemptsPerSessionMax: 16,
  sessionsActiveMax: 4_096,
  // Round deadlines (adaptive between floor and cap)
  roundTimeoutMsFloor: 1_000,
  roundTimeoutMsCap: 10_000,
  roundTimeoutMsDefault: 3_000,
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
  // Heartbeats
  heartbeatIntervalMsDefault: 1_000,
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
  simSeedsMax: 1_000_000,
} as const;

assert(
  limits.sessionDeadlineMsDefault <= limits.sessionDeadlineMsMax,
  'default deadline within max',
);
assert(limits.waitMsDefault <= limits.waitMsMax, 'default wait within max');
assert(limits.roundTimeoutMsFloor <= limits.roundTimeoutMsDefault, 'round floor <= default');
assert(limits.roundTimeoutMsDefault <= limits.roundTimeoutMsCap, 'round default <= cap');
assert(limits.roundTimeoutMsCap < limits.sessionDeadlineMsDefault, 'a round fits in a session');
assert(limits.partySessionTtlMs > limits.sessionDeadlineMsMax, 'party TTL outlives any deadline');
assert(limits.messageBytesMax * 2 + 4096 < limits.httpBodyBytesMax, 'hex message fits in body');
assert(limits.reconnectDelayMsMin <= limits.reconnectDelayMsMax, 'reconnect bounds ordered');
