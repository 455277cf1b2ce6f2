/**
 * The workload client, run as its own process inside the client namespace (the harness lives
 * in the host's namespace and cannot reach the private subnet itself). It creates the wallet,
 * issues the planned requests, polls `GET /v1/parties`, and writes every history event as one
 * JSON line on stdout, stamped with the harness clock: wall-clock ms since the `epochMs` the
 * harness sends (same machine, so the same wall clock).
 *
 * Protocol: stdout lines `{"t":"wallet",…}`, `{"t":"event","event":…}`, `{"t":"requests-done"}`,
 * `{"t":"error","message":…}`; stdin lines `start <epochMs>` and `stop`.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { lastTokenOf, type NewHistoryEvent, type SignCompletion } from '../checker/history.ts';
import { realEnv, sleep, type Env } from '../core/env.ts';
import { chaosLimits } from '../core/limits.ts';
import type { PlannedRequest } from './workload-plan.ts';

/** What the harness passes (as a JSON file path in argv[2]). */
export interface DriverConfig {
  coordinatorUrl: string;
  apiToken: string;
  scheme: string;
  threshold: number;
  parties: string[];
  requests: PlannedRequest[];
}

const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

/** The run's shared state: its clock, what it was told, and the bounded event count. */
interface Driver {
  env: Env;
  config: DriverConfig;
  /** Harness time: wall-clock ms since the harness's epoch (0 until `start`). */
  nowMs: () => number;
  eventCount: number;
}

function record(driver: Driver, event: Omit<NewHistoryEvent, 'timeMs'>): void {
  if (driver.eventCount++ >= chaosLimits.historyEventsMax) return;
  emit({ t: 'event', event: { ...event, timeMs: driver.nowMs() } });
}

async function api(
  config: DriverConfig,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${config.coordinatorUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${config.apiToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function waitForParties(driver: Driver): Promise<void> {
  const { env, config } = driver;
  const untilMs = env.monoMs() + chaosLimits.startupWaitMs;
  while (env.monoMs() < untilMs) {
    const res = await api(config, 'GET', '/v1/parties', undefined, 2_000).catch(() => undefined);
    const parties =
      (res?.json['parties'] as { partyId: string; state: string }[] | undefined) ?? [];
    if (config.parties.every((id) => parties.some((p) => p.partyId === id && p.state === 'alive')))
      return;
    await sleep(env, 200);
  }
  throw new Error('parties did not all become alive');
}

type Outcome = { type: 'ok' | 'fail' | 'info'; value: Omit<SignCompletion, 'requestId'> };

type ApiAnswer = { status: number; json: Record<string, unknown> };

/** The POST of one try, or why the coordinator could not be reached. */
async function postSign(
  driver: Driver,
  walletId: string,
  plan: PlannedRequest,
  deadlineAtMs: number,
): Promise<ApiAnswer | { unreachable: string }> {
  const remainingMs = Math.max(0, deadlineAtMs - driver.nowMs());
  const body = {
    message: plan.messageHex,
    intentKey: plan.intentKey,
    // A retry asks only for what is left of the caller's deadline.
    deadlineMs: Math.max(100, remainingMs),
    waitMs: Math.min(60_000, remainingMs + 1_000),
  };
  return api(
    driver.config,
    'POST',
    `/v1/wallets/${walletId}/signatures`,
    body,
    remainingMs + 5_000,
  ).catch((error: unknown) => ({ unreachable: String(error) }));
}

/** Polls a session answered 202 until it is terminal or its deadline (+1 s) has passed. */
async function awaitTerminal(
  driver: Driver,
  sessionId: string,
  deadlineAtMs: number,
): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 10_000 && driver.nowMs() <= deadlineAtMs + 1_000; i++) {
    await sleep(driver.env, chaosLimits.pollIntervalMs);
    const s = await api(driver.config, 'GET', `/v1/sessions/${sessionId}`, undefined, 2_000).catch(
      () => undefined,
    );
    if (s && (s.json['status'] === 'signed' || s.json['status'] === 'failed')) return s.json;
  }
  return undefined;
}

/** One try: POST, then poll the session if the answer was 202, until its deadline. */
async function tryOnce(
  driver: Driver,
  walletId: string,
  plan: PlannedRequest,
  deadlineAtMs: number,
): Promise<Outcome> {
  const res = await postSign(driver, walletId, plan, deadlineAtMs);
  // Connection refused/reset: the coordinator is down or restarting; the client retries.
  if ('unreachable' in res)
    return { type: 'info', value: { code: 'CLIENT_E_UNREACHABLE', reason: res.unreachable } };
  let body = res.json;
  if (res.status === 202) {
    const sessionId = String(body['sessionId']);
    const terminal = await awaitTerminal(driver, sessionId, deadlineAtMs);
    if (terminal === undefined)
      return {
        type: 'fail',
        value: { sessionDeadlineAtMs: deadlineAtMs, sessionId, code: 'CLIENT_E_NOT_TERMINAL' },
      };
    body = terminal;
  }
  return outcomeOf(driver, res.status, body, deadlineAtMs);
}

/** The history outcome of a terminal answer (signed, or failed with its error). */
async function outcomeOf(
  driver: Driver,
  status: number,
  body: Record<string, unknown>,
  deadlineAtMs: number,
): Promise<Outcome> {
  const error = (body['error'] ?? {}) as {
    code?: string;
    retryable?: boolean;
    detail?: Record<string, unknown>;
  };
  const sessionId = error.detail?.['sessionId'] ?? body['sessionId'];
  const lastToken =
    typeof sessionId === 'string' ? await fetchLastToken(driver.config, sessionId) : undefined;
  const answer = {
    sessionDeadlineAtMs: deadlineAtMs,
    ...(lastToken === undefined ? {} : { lastToken }),
  };
  if (body['status'] === 'signed' && typeof body['signature'] === 'string')
    return {
      type: 'ok',
      value: {
        ...answer,
        sessionId: String(body['sessionId']),
        signature: body['signature'],
        signers: (body['signers'] as string[] | undefined) ?? [],
      },
    };
  return {
    type: 'fail',
    value: {
      ...answer,
      ...(typeof sessionId === 'string' ? { sessionId } : {}),
      code: error.code ?? `CLIENT_E_HTTP_${status}`,
      ...(error.retryable === undefined ? {} : { retryable: error.retryable }),
      ...(error.detail === undefined ? {} : { detail: error.detail }),
    },
  };
}

/**
 * The highest attempt token of a session just answered: a session reopened for a retry is
 * answered once per try, and the checker judges each party's nonce against the try it belongs
 * to (I6). Undefined if the coordinator does not answer (the checker then assumes every try).
 */
async function fetchLastToken(
  config: DriverConfig,
  sessionId: string,
): Promise<number | undefined> {
  const s = await api(config, 'GET', `/v1/sessions/${sessionId}`, undefined, 2_000).catch(
    () => undefined,
  );
  const attempts = s?.json['attempts'];
  if (!Array.isArray(attempts)) return undefined;
  return lastTokenOf(
    attempts.map((a) => ({ token: Number((a as { token?: unknown }).token) || 0 })),
  );
}

/**
 * A logical request: tries until one is terminal, or the coordinator stays away past its
 * deadline.
 */
async function runRequest(driver: Driver, walletId: string, plan: PlannedRequest): Promise<void> {
  const clientProcess = `client-${plan.requestId}`;
  const deadlineAtMs = driver.nowMs() + plan.deadlineMs;
  for (let tryNo = 0; tryNo < chaosLimits.requestTriesMax; tryNo++) {
    record(driver, {
      process: clientProcess,
      type: 'invoke',
      f: 'sign',
      value: {
        requestId: plan.requestId,
        walletId,
        intentKey: plan.intentKey,
        messageHex: plan.messageHex,
        deadlineMs: Math.max(0, deadlineAtMs - driver.nowMs()),
        try: tryNo,
      },
    });
    const outcome = await tryOnce(driver, walletId, plan, deadlineAtMs);
    record(driver, {
      process: clientProcess,
      type: outcome.type,
      f: 'sign',
      value: { requestId: plan.requestId, ...outcome.value },
    });
    if (outcome.type !== 'info' || driver.nowMs() + chaosLimits.retryDelayMs > deadlineAtMs) return;
    await sleep(driver.env, chaosLimits.retryDelayMs);
  }
}

async function monitor(driver: Driver, stopped: () => boolean): Promise<void> {
  const last = new Map<string, string>();
  while (!stopped()) {
    const res = await api(driver.config, 'GET', '/v1/parties', undefined, 1_000).catch(
      () => undefined,
    );
    const parties =
      (res?.json['parties'] as { partyId: string; state: string }[] | undefined) ?? undefined;
    if (parties === undefined) last.clear();
    for (const p of parties ?? []) {
      if (last.get(p.partyId) === p.state) continue;
      last.set(p.partyId, p.state);
      record(driver, {
        process: 'monitor',
        type: 'info',
        f: 'party-state',
        value: { partyId: p.partyId, state: p.state },
      });
    }
    await sleep(driver.env, chaosLimits.monitorIntervalMs);
  }
}

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);
const isStrings = (x: unknown): x is string[] =>
  Array.isArray(x) && x.every((v) => typeof v === 'string');

function parsePlannedRequest(raw: unknown): PlannedRequest {
  if (!isRecord(raw)) throw new Error('driver config: a request is not an object');
  const { requestId, atMs, intentKey, messageHex, deadlineMs } = raw;
  if (
    typeof requestId !== 'string' ||
    typeof intentKey !== 'string' ||
    typeof messageHex !== 'string' ||
    typeof atMs !== 'number' ||
    typeof deadlineMs !== 'number'
  )
    throw new Error('driver config: a request has a missing or mistyped field');
  return { requestId, atMs, intentKey, messageHex, deadlineMs };
}

/** Reads and checks the config file the harness wrote (argv[2]). */
function readDriverConfig(path: string): DriverConfig {
  const raw: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isRecord(raw)) throw new Error('driver config is not an object');
  const { coordinatorUrl, apiToken, scheme, threshold, parties, requests } = raw;
  if (
    typeof coordinatorUrl !== 'string' ||
    typeof apiToken !== 'string' ||
    typeof scheme !== 'string' ||
    typeof threshold !== 'number' ||
    !isStrings(parties) ||
    !Array.isArray(requests) ||
    requests.length > chaosLimits.requestsMax
  )
    throw new Error('driver config has a missing or mistyped field');
  const planned = requests.map(parsePlannedRequest);
  return { coordinatorUrl, apiToken, scheme, threshold, parties, requests: planned };
}

/** The harness's commands on stdin: `start <epochMs>` (resolves `started`) and `stop`. */
function listenToHarness(): { started: Promise<number>; stopped: () => boolean } {
  const lines = createInterface({ input: process.stdin });
  let startResolve: (epoch: number) => void = () => {};
  const started = new Promise<number>((r) => (startResolve = r));
  let stop = false;
  lines.on('line', (line) => {
    const [cmd, arg] = line.trim().split(' ');
    if (cmd === 'start') startResolve(Number(arg));
    if (cmd === 'stop') stop = true;
  });
  lines.on('close', () => (stop = true));
  return { started, stopped: () => stop };
}

async function createWallet(driver: Driver): Promise<string> {
  const { config } = driver;
  const wallet = await api(
    config,
    'POST',
    '/v1/wallets',
    { scheme: config.scheme, threshold: config.threshold, parties: config.parties },
    60_000,
  );
  if (wallet.status !== 201)
    throw new Error(`wallet creation failed: ${JSON.stringify(wallet.json)}`);
  emit({ t: 'wallet', wallet: wallet.json });
  return String(wallet.json['walletId']);
}

async function main(): Promise<void> {
  const env = realEnv({ logLevel: 'silent' });
  let epochMs = 0;
  const driver: Driver = {
    env,
    config: readDriverConfig(process.argv[2] ?? ''),
    nowMs: () => env.nowMs() - epochMs,
    eventCount: 0,
  };
  const harness = listenToHarness();
  await waitForParties(driver);
  const walletId = await createWallet(driver);
  epochMs = await harness.started;
  const monitoring = monitor(driver, harness.stopped);
  const running = new Set<Promise<void>>();
  for (const plan of driver.config.requests) {
    if (harness.stopped()) break;
    const waitMs = plan.atMs - driver.nowMs();
    if (waitMs > 0) await sleep(env, waitMs);
    if (running.size >= chaosLimits.inFlightMax) await Promise.race(running);
    const p = runRequest(driver, walletId, plan).finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.all(running);
  emit({ t: 'requests-done' });
  await monitoring;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    emit({ t: 'error', message: String(error) });
    process.exit(1);
  },
);
