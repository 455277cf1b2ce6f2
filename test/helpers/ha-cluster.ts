/**
 * Coordinator replicas on a real etcd cluster, as real processes on loopback: N replicas
 * (`--store etcd://…`), parties dialing every replica, a wallet, and a client that behaves
 * like a careful wallet backend (retries a retryable answer or a dropped connection on another
 * replica with the same intentKey and message, which joins the same session).
 */
import assert from 'node:assert/strict';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { LocalCluster, type LocalClusterOptions } from '../../src/cli/local-cluster.ts';
import type { EtcdCluster } from './etcd-cluster.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Replica lease ttl in the HA tests: the store's minimum, so takeovers are quick. */
export const haLeaseTtlMs = 2_000;

/** Starts `replicas` coordinators on `etcd`, then the parties; waits until all are connected. */
export async function startReplicas(
  etcd: EtcdCluster,
  replicas: number,
  parties: string[],
  options: LocalClusterOptions = {},
): Promise<LocalCluster> {
  const cluster = new LocalCluster({
    replicas,
    coordinatorArgs: ['--store', etcd.url, '--lease-ttl-ms', String(haLeaseTtlMs)],
    ...options,
  });
  try {
    await cluster.startCoordinators();
    for (const p of parties) cluster.startParty(p);
    for (let i = 0; i < replicas; i++) await cluster.waitForParties(parties, 'alive', 30_000, i);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Creates a bip340 2-of-3 wallet by DKG through replica `replica`. */
export async function createWallet(
  cluster: LocalCluster,
  parties: string[],
  replica = 0,
): Promise<{ walletId: string; publicKey: string }> {
  const r = await cluster.request(
    'POST',
    '/v1/wallets',
    { scheme: 'bip340', threshold: 2, parties },
    replica,
  );
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return { walletId: r.json['walletId'] as string, publicKey: r.json['publicKey'] as string };
}

/** True iff `signatureHex` is a valid BIP340 signature of `messageHex` under `publicKey`. */
export function verifies(publicKey: string, messageHex: string, signatureHex: string): boolean {
  return schnorr.verify(hexToBytes(signatureHex), hexToBytes(messageHex), hexToBytes(publicKey));
}

/** What one logical client request ended with. */
export interface ClientOutcome {
  intentKey: string;
  messageHex: string;
  sessionId?: string;
  status: 'signed' | 'failed' | 'lost';
  signature?: string;
  code?: string;
  /** Answers that made the client try again elsewhere (codes or 'connection'). */
  retries: string[];
}

/**
 * One logical signing request: POST to a live replica; a retryable error or a dropped
 * connection is retried on the next replica (same intentKey + message), bounded by `untilMs`.
 * A non-retryable error or a terminal session ends it. `live()` names replicas to try.
 */
export async function signWithRetry(
  cluster: LocalCluster,
  walletId: string,
  intentKey: string,
  messageHex: string,
  live: () => number[],
  untilMs: number,
): Promise<ClientOutcome> {
  const outcome: ClientOutcome = { intentKey, messageHex, status: 'lost', retries: [] };
  for (let i = 0; Date.now() < untilMs && i < 64; i++) {
    const replicas = live();
    const replica = replicas[i % Math.max(1, replicas.length)] ?? 0;
    let r: { status: number; json: Record<string, unknown> };
    try {
      r = await cluster.request(
        'POST',
        `/v1/wallets/${walletId}/signatures`,
        { message: messageHex, intentKey, waitMs: 20_000 },
        replica,
      );
    } catch {
      outcome.retries.push('connection');
      await sleep(200);
      continue;
    }
    const error = r.json['error'] as
      { code: string; retryable: boolean; detail: Record<string, unknown> } | undefined;
    const sessionId = (r.json['sessionId'] ?? error?.detail['sessionId']) as string | undefined;
    if (sessionId !== undefined) outcome.sessionId = sessionId;
    if (r.status === 200 && r.json['status'] === 'signed') {
      return { ...outcome, status: 'signed', signature: r.json['signature'] as string };
    }
    if (error && !error.retryable) return { ...outcome, status: 'failed', code: error.code };
    outcome.retries.push(error?.code ?? `status ${r.status}`);
    await sleep(200);
  }
  return outcome;
}

/**
 * Asks for the session of an intent on `replicas` (in turn) until an answer names it: a careful
 * client retries an answer that names none (a replica that holds no lease right now, a dropped
 * connection), bounded by `untilMs` and 100 tries. Every such answer must be retryable. Returns
 * the first answer that names the session, with its id and every answer seen (for messages).
 */
export async function joinSession(
  cluster: LocalCluster,
  walletId: string,
  request: { intentKey: string; message: string; waitMs?: number },
  replicas: readonly number[],
  untilMs: number,
): Promise<{ sessionId: string; answer: HttpAnswer; seen: string[]; retries: number }> {
  const seen: string[] = [];
  for (let k = 0; k < 100 && (k === 0 || Date.now() < untilMs); k++) {
    const answer: HttpAnswer = await cluster
      .request(
        'POST',
        `/v1/wallets/${walletId}/signatures`,
        {
          message: request.message,
          intentKey: request.intentKey,
          waitMs: request.waitMs ?? 20_000,
        },
        replicas[k % replicas.length] ?? 0,
      )
      .catch((e: unknown) => ({ status: 0, json: { connection: String(e) } }));
    seen.push(`${answer.status} ${JSON.stringify(answer.json)}`);
    const error = answer.json['error'] as
      { retryable: boolean; detail: { sessionId?: string } } | undefined;
    const sessionId = (answer.json['sessionId'] ?? error?.detail.sessionId) as string | undefined;
    if (sessionId !== undefined) return { sessionId, answer, seen, retries: k };
    assert.ok(answer.status === 0 || error?.retryable === true, seen.join('\n'));
    await sleep(200);
  }
  assert.fail(`no answer named a session for ${request.intentKey}:\n${seen.join('\n')}`);
}

/** An HTTP answer as the tests see it. */
export type HttpAnswer = { status: number; json: Record<string, unknown> };

/** Polls the session on any answering replica until it is terminal (bounded). */
export async function pollTerminal(
  cluster: LocalCluster,
  sessionId: string,
  replicas: number[],
  untilMs: number,
): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  for (let i = 0; Date.now() < untilMs; i++) {
    const replica = replicas[i % replicas.length] ?? 0;
    const r = await cluster
      .request('GET', `/v1/sessions/${sessionId}`, undefined, replica)
      .catch(() => undefined);
    if (r?.status === 200) {
      last = r.json;
      if (last['status'] === 'signed' || last['status'] === 'failed') return last;
    }
    await sleep(100);
  }
  return last;
}

/** Attempts as the API shows them. */
export type ApiAttempt = { attempt: number; token: number; outcome: string; reason?: string };

/** Asserts the fencing tokens of a session's attempts strictly increase. */
export function assertTokensIncrease(session: Record<string, unknown>): ApiAttempt[] {
  const attempts = session['attempts'] as ApiAttempt[];
  for (let i = 1; i < attempts.length; i++) {
    assert.ok(attempts[i]!.token > attempts[i - 1]!.token, 'fencing tokens increase');
  }
  return attempts;
}

/**
 * Answers from a replica that lost the store: each either signed before the loss was felt or
 * failed explicitly with a retryable code (never a hang, never a 202 left to guess), and at
 * least one was still in flight (so the test exercised the loss at all).
 */
export function assertExplicitMinorityFailures(
  answers: readonly { status: number; json: Record<string, unknown> }[],
  what: string,
): void {
  for (const a of answers) {
    if (a.status === 200) continue;
    const error = a.json['error'] as { code: string; retryable: boolean };
    assert.ok(
      ['QUORATE_E_NOT_OWNER', 'QUORATE_E_STORE_UNAVAILABLE'].includes(error.code),
      JSON.stringify(a.json),
    );
    assert.equal(error.retryable, true);
  }
  assert.ok(
    answers.some((a) => a.status !== 200),
    `at least one request was in flight when ${what}`,
  );
}
