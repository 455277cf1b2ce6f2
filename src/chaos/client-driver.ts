/**
 * The workload client, run as its own process inside the client namespace (the harness lives
 * in the host's namespace and cannot reach the private subnet itself). It creates the wallet,
 * issues the planned requests, polls `GET /v1/parties`, and writes every history event as one
 * JSON line on stdout, stamped `Date.now() - epochMs` (the harness clock; same machine).
 *
 * Protocol: stdout lines `{"t":"wallet",…}`, `{"t":"event","event":…}`, `{"t":"requests-done"}`,
 * `{"t":"error","message":…}`; stdin lines `start <epochMs>` and `stop`.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { lastTokenOf, type NewHistoryEvent, type SignCompletion } from '../checker/history.ts';
import { chaosLimits } from './chaos-limits.ts';
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

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

let epochMs = 0;
const nowMs = () => Date.now() - epochMs;
let eventCount = 0;

function record(event: Omit<NewHistoryEvent, 'timeMs'>): void {
  if (eventCount++ >= chaosLimits.historyEventsMax) return;
  emit({ t: 'event', event: { ...event, timeMs: nowMs() } });
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

async function waitForParties(config: DriverConfig): Promise<void> {
  const until = Date.now() + chaosLimits.startupWaitMs;
  while (Date.now() < until) {
    const res = await api(config, 'GET', '/v1/parties', undefined, 2_000).catch(() => undefined);
    const parties =
      (res?.json['parties'] as { partyId: string; state: string }[] | undefined) ?? [];
    if (config.parties.every((id) => parties.some((p) => p.partyId === id && p.state === 'alive')))
      return;
    await sleep(200);
  }
  throw new Error('parties did not all become alive');
}

type Outcome = { type: 'ok' | 'fail' | 'info'; value: Omit<SignCompletion, 'requestId'> };

/** One try: POST, then poll the session if the answer was 202, until its deadline. */
async function tryOnce(
  config: DriverConfig,
  walletId: string,
  plan: PlannedRequest,
  deadlineAtMs: number,
): Promise<Outcome> {
  const remainingMs = Math.max(0, deadlineAtMs - nowMs());
  let res;
  try {
    res = await api(
      config,
      'POST',
      `/v1/wallets/${walletId}/signatures`,
      {
        message: plan.messageHex,
        intentKey: plan.intentKey,
        // A retry asks only for what is left of the caller's deadline.
        deadlineMs: Math.max(100, remainingMs),
        waitMs: Math.min(60_000, remainingMs + 1_000),
      },
      remainingMs + 5_000,
    );
  } catch (error) {
    // Connection refused/reset: the coordinator is down or restarting; the client retries.
    return { type: 'info', value: { code: 'CLIENT_E_UNREACHABLE', reason: String(error) } };
  }
  const base = { sessionDeadlineAtMs: deadlineAtMs };
  let body = res.json;
  if (res.status === 202) {
    const sessionId = String(body['sessionId']);
    for (let i = 0; i < 10_000 && nowMs() <= deadlineAtMs + 1_000; i++) {
      await sleep(chaosLimits.pollIntervalMs);
      const s = await api(config, 'GET', `/v1/sessions/${sessionId}`, undefined, 2_000).catch(
        () => undefined,
      );
      if (s && (s.json['status'] === 'signed' || s.json['status'] === 'failed')) {
        body = s.json;
        break;
      }
    }
    if (body['status'] !== 'signed' && body['status'] !== 'failed')
      return { type: 'fail', value: { ...base, sessionId, code: 'CLIENT_E_NOT_TERMINAL' } };
  }
  const error = (body['error'] ?? {}) as {
    code?: string;
    retryable?: boolean;
    detail?: Record<string, unknown>;
  };
  const sessionId = error.detail?.['sessionId'] ?? body['sessionId'];
  const lastToken =
    typeof sessionId === 'string' ? await fetchLastToken(config, sessionId) : undefined;
  const answer = { ...base, ...(lastToken === undefined ? {} : { lastToken }) };
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
      code: error.code ?? `CLIENT_E_HTTP_${res.status}`,
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

/** A logical request: tries until one is terminal, or the coordinator stays away past its deadline. */
async function runRequest(
  config: DriverConfig,
  walletId: string,
  plan: PlannedRequest,
): Promise<void> {
  const clientProcess = `client-${plan.requestId}`;
  const deadlineAtMs = nowMs() + plan.deadlineMs;
  for (let tryNo = 0; tryNo < chaosLimits.requestTriesMax; tryNo++) {
    record({
      process: clientProcess,
      type: 'invoke',
      f: 'sign',
      value: {
        requestId: plan.requestId,
        walletId,
        intentKey: plan.intentKey,
        messageHex: plan.messageHex,
        deadlineMs: Math.max(0, deadlineAtMs - nowMs()),
        try: tryNo,
      },
    });
    const outcome = await tryOnce(config, walletId, plan, deadlineAtMs);
    record({
      process: clientProcess,
      type: outcome.type,
      f: 'sign',
      value: { requestId: plan.requestId, ...outcome.value },
    });
    if (outcome.type !== 'info' || nowMs() + chaosLimits.retryDelayMs > deadlineAtMs) return;
    await sleep(chaosLimits.retryDelayMs);
  }
}

async function monitor(config: DriverConfig, stopped: () => boolean): Promise<void> {
  const last = new Map<string, string>();
  while (!stopped()) {
    const res = await api(config, 'GET', '/v1/parties', undefined, 1_000).catch(() => undefined);
    const parties =
      (res?.json['parties'] as { partyId: string; state: string }[] | undefined) ?? undefined;
    if (parties === undefined) last.clear();
    for (const p of parties ?? []) {
      if (last.get(p.partyId) === p.state) continue;
      last.set(p.partyId, p.state);
      record({
        process: 'monitor',
        type: 'info',
        f: 'party-state',
        value: { partyId: p.partyId, state: p.state },
      });
    }
    await sleep(chaosLimits.monitorIntervalMs);
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as DriverConfig;
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
  await waitForParties(config);
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
  epochMs = await started;
  const walletId = String(wallet.json['walletId']);
  const monitoring = monitor(config, () => stop);
  const running = new Set<Promise<void>>();
  for (const plan of config.requests) {
    if (stop) break;
    const waitMs = plan.atMs - nowMs();
    if (waitMs > 0) await sleep(waitMs);
    if (running.size >= chaosLimits.inFlightMax) await Promise.race(running);
    const p = runRequest(config, walletId, plan).finally(() => running.delete(p));
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
