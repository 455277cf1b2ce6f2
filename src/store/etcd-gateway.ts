/**
 * A small etcd v3 client over etcd's JSON gateway (grpc-gateway: `POST /v3/kv/range`,
 * `/v3/kv/txn`, `/v3/lease/grant|keepalive|revoke`, base64 keys and values) using Node's
 * global `fetch`.
 *
 * Why not the `etcd3` package: we need only KV range, txn and three lease calls, all unary over
 * the gateway; `etcd3` would add gRPC (`@grpc/grpc-js`, protobuf loading) as runtime
 * dependencies, and its `Election` helper, the one part that would save us code, has a known
 * double-leader bug. Calling the gateway keeps zero new dependencies, puts every timeout, retry
 * and endpoint failover under our own limits and `Env` timers (so they are bounded and
 * testable), and keeps the exact txn compares visible here. What we give up: streaming watch
 * and keepalive (we poll and renew with unary calls, which the lease design needs anyway).
 *
 * Reads are always linearizable: `serializable` is never set, so a range goes through the
 * leader's read index and an isolated member cannot answer with stale data.
 *
 * TLS: with {@link EtcdTlsOptions} every endpoint is `https://`, verified against the given CA
 * (never unverified), and the client certificate authenticates us to an etcd that runs with
 * `--client-cert-auth`. Requests go through `node:http(s)` rather than the global `fetch`,
 * whose TLS settings (CA, client certificate) cannot be set per call without undici's Agent.
 */
import { Buffer } from 'node:buffer';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { assert } from '../core/assert.ts';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';

/** One key-value as etcd returns it (revisions decoded; lease id kept as a decimal string). */
export interface EtcdKv {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  /** Per-key write count: 1 on creation, +1 on every put (reset only by a delete). */
  version: number;
  lease: string;
}

/** A txn compare in gateway JSON form. */
export interface EtcdCompare {
  key: string;
  target: 'CREATE' | 'MOD' | 'VERSION' | 'VALUE';
  result: 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
  create_revision?: string;
  mod_revision?: string;
  version?: string;
  value?: string;
}

/** A txn operation in gateway JSON form. */
export type EtcdOp =
  | { request_put: { key: string; value: string; lease?: string } }
  | { request_range: Record<string, unknown> }
  | { request_delete_range: { key: string; range_end?: string } };

/** Result of a txn: which branch ran, the store revision after it, and each range's kvs. */
export interface EtcdTxnResult {
  succeeded: boolean;
  revision: number;
  /** Aligned with the ops of the branch that ran; `undefined` for non-range ops. */
  ranges: (EtcdKv[] | undefined)[];
}

/** Options of a range read. */
export interface EtcdRangeOptions {
  /** Read every key with this prefix (the key itself is the prefix). */
  prefix?: boolean;
  /** Read the keys in [key, end) instead (etcd's `range_end`); not with `prefix`. */
  end?: string;
  limit?: number;
  keysOnly?: boolean;
  sortTarget?: 'KEY' | 'CREATE';
  sortOrder?: 'ASCEND' | 'DESCEND';
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (data: unknown): string =>
  typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : '';
/** proto3 JSON omits zero values and writes int64 as strings. */
const int = (value: unknown): number => (value === undefined ? 0 : Number(value));

/** The smallest key greater than every key with `prefix` (etcd's `range_end` for a prefix). */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      bytes[i] = bytes[i]! + 1;
      return bytes.subarray(0, i + 1).toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

/** Compare and op builders (keys and values are UTF-8 text). */
export const etcd = {
  absent: (key: string): EtcdCompare => ({
    key: b64(key),
    target: 'CREATE',
    result: 'EQUAL',
    create_revision: '0',
  }),
  modRevision: (key: string, revision: number): EtcdCompare => ({
    key: b64(key),
    target: 'MOD',
    result: 'EQUAL',
    mod_revision: String(revision),
  }),
  /** Holds only if the key exists with exactly this value (a missing key never matches). */
  valueIs: (key: string, value: string): EtcdCompare => ({
    key: b64(key),
    target: 'VALUE',
    result: 'EQUAL',
    value: b64(value),
  }),
  put: (key: string, value: string, lease?: string): EtcdOp => ({
    request_put: { key: b64(key), value: b64(value), ...(lease === undefined ? {} : { lease }) },
  }),
  get: (key: string, options: EtcdRangeOptions = {}): EtcdOp => ({
    request_range: rangeBody(key, options),
  }),
  /** Holds only if the key exists with exactly this etcd version (puts since its creation). */
  versionIs: (key: string, version: number): EtcdCompare => ({
    key: b64(key),
    target: 'VERSION',
    result: 'EQUAL',
    version: String(version),
  }),
  del: (key: string): EtcdOp => ({ request_delete_range: { key: b64(key) } }),
  /** Deletes every key with this prefix. */
  delPrefix: (prefix: string): EtcdOp => ({
    request_delete_range: { key: b64(prefix), range_end: prefixEnd(prefix) },
  }),
};

function rangeBody(key: string, options: EtcdRangeOptions): Record<string, unknown> {
  return {
    key: b64(key),
    ...(options.prefix ? { range_end: prefixEnd(key) } : {}),
    ...(options.end === undefined ? {} : { range_end: b64(options.end) }),
    ...(options.limit === undefined ? {} : { limit: String(options.limit) }),
    ...(options.keysOnly ? { keys_only: true } : {}),
    ...(options.sortTarget ? { sort_target: options.sortTarget } : {}),
    ...(options.sortOrder ? { sort_order: options.sortOrder } : {}),
  };
}

function parseKvs(kvs: unknown): EtcdKv[] {
  if (!Array.isArray(kvs)) return [];
  return kvs.map((raw: Record<string, unknown>) => ({
    key: unb64(raw['key']),
    value: unb64(raw['value']),
    createRevision: int(raw['create_revision']),
    modRevision: int(raw['mod_revision']),
    version: int(raw['version']),
    lease: typeof raw['lease'] === 'string' ? raw['lease'] : '0',
  }));
}

/** An answer from etcd that is an error, not a transport failure (gRPC status code). */
export class EtcdResponseError extends Error {
  override name = 'EtcdResponseError';
  constructor(
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** TLS to etcd: the CA that signed its serving certificate, and our client certificate (PEM). */
export interface EtcdTlsOptions {
  ca: string;
  /** Client certificate and key, for `--client-cert-auth` (both or neither). */
  cert?: string;
  key?: string;
}

/** gRPC Unavailable / DeadlineExceeded: no leader, leader changed, timeout: try another member. */
const retryableGrpcCodes = new Set([4, 14]);

/**
 * Parses `etcd://h1:2379,h2:2379` (or a comma list of http:// URLs) into gateway base URLs;
 * `https://` for bare hosts when `secure` (TLS), and then a plain `http://` one is refused.
 */
export function parseEtcdEndpoints(url: string, secure = false): string[] {
  const list = url.startsWith('etcd://') ? url.slice('etcd://'.length) : url;
  const scheme = secure ? 'https' : 'http';
  const endpoints = list
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0)
    .map((e) => (e.startsWith('http://') || e.startsWith('https://') ? e : `${scheme}://${e}`))
    .map((e) => e.replace(/\/+$/, ''));
  if (endpoints.length === 0 || endpoints.length > limits.etcdEndpointsMax) {
    throw new QuorateError('QUORATE_E_CONFIG', 'etcd store needs 1..16 endpoints', { url });
  }
  for (const e of endpoints) {
    if (!URL.canParse(e)) throw new QuorateError('QUORATE_E_CONFIG', 'bad etcd endpoint', { url });
    if (secure && !e.startsWith('https://')) {
      throw new QuorateError('QUORATE_E_CONFIG', 'etcd over TLS needs https:// endpoints', { url });
    }
  }
  return endpoints;
}

/**
 * Unary calls to an etcd cluster through any of its members. A connection error, timeout or
 * "unavailable" answer moves on to the next endpoint (and later calls start there); after
 * `limits.etcdRequestAttemptsMax` attempts with capped exponential backoff it throws
 * `QUORATE_E_STORE_UNAVAILABLE` (retryable). A retried write may have been applied by the
 * attempt that timed out: callers make writes recognisable (see the write ids in etcd.ts).
 */
export class EtcdGateway {
  private preferred = 0;
  /** One keep-alive agent per scheme; the https one carries the CA and client certificate. */
  private readonly httpAgent = new HttpAgent({ keepAlive: true });
  private readonly httpsAgent: HttpsAgent | undefined;

  constructor(
    readonly endpoints: readonly string[],
    private readonly env: Env,
    tls?: EtcdTlsOptions,
  ) {
    assert(endpoints.length > 0 && endpoints.length <= limits.etcdEndpointsMax, 'etcd endpoints');
    assert((tls?.cert === undefined) === (tls?.key === undefined), 'etcd client cert and key');
    this.httpsAgent =
      tls === undefined
        ? undefined
        : new HttpsAgent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key });
  }

  /** Closes idle keep-alive connections (the store calls it when it closes). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent?.destroy();
  }

  /** Linearizable range read. */
  async range(key: string, options: EtcdRangeOptions = {}): Promise<EtcdKv[]> {
    const answer = await this.call('/v3/kv/range', rangeBody(key, options));
    return parseKvs(answer['kvs']);
  }

  /** One atomic txn: if every compare holds, `success` runs, else `failure`. */
  async txn(compare: EtcdCompare[], success: EtcdOp[], failure: EtcdOp[]): Promise<EtcdTxnResult> {
    assert(
      compare.length + Math.max(success.length, failure.length) <= limits.etcdTxnOpsMax,
      'txn within etcd --max-txn-ops',
    );
    const answer = await this.call('/v3/kv/txn', { compare, success, failure });
    const header = answer['header'] as Record<string, unknown> | undefined;
    const responses = Array.isArray(answer['responses']) ? answer['responses'] : [];
    return {
      succeeded: answer['succeeded'] === true,
      revision: int(header?.['revision']),
      ranges: responses.map((r: Record<string, unknown>) => {
        const range = r['response_range'] as Record<string, unknown> | undefined;
        return range && parseKvs(range['kvs']);
      }),
    };
  }

  /** The store's current revision (a linearizable count-only read of one key). */
  async revision(key: string): Promise<number> {
    const answer = await this.call('/v3/kv/range', { key: b64(key), count_only: true });
    const header = answer['header'] as Record<string, unknown> | undefined;
    return int(header?.['revision']);
  }

  /**
   * Compacts the key history up to `revision`: older revisions of every key are dropped (the
   * space is reused by etcd; `etcdctl defrag` returns it to the file system, docs/scale.md).
   * A revision already compacted is not an error.
   */
  async compact(revision: number): Promise<void> {
    try {
      await this.call('/v3/kv/compaction', { revision: String(revision), physical: false });
    } catch (error) {
      if (error instanceof EtcdResponseError && /compacted/.test(String(error.message))) return;
      throw error;
    }
  }

  /** Grants a lease; returns its id (decimal string: int64 exceeds JS numbers) and ttl in s. */
  async leaseGrant(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    const answer = await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) });
    const id = answer['ID'];
    assert(typeof id === 'string' && id !== '0', 'etcd granted a lease id');
    return { id, ttlSeconds: int(answer['TTL']) };
  }

  /** One keepalive; the remaining ttl in seconds, 0 if the lease has expired or was revoked. */
  async leaseKeepAlive(id: string): Promise<number> {
    const answer = await this.call('/v3/lease/keepalive', { ID: id });
    const result = answer['result'] as Record<string, unknown> | undefined;
    return int(result?.['TTL']);
  }

  /** Revokes a lease (deleting its keys); an unknown lease is not an error. */
  async leaseRevoke(id: string): Promise<void> {
    try {
      await this.call('/v3/lease/revoke', { ID: id });
    } catch (error) {
      if (error instanceof EtcdResponseError && error.grpcCode === 5) return; // NotFound
      throw error;
    }
  }

  private async call(path: string, body: unknown): Promise<Record<string, unknown>> {
    const payload = JSON.stringify(body);
    assert(payload.length <= limits.etcdRequestBytesMax, 'etcd request within max request bytes');
    let delayMs: number = limits.etcdRetryDelayMsMin;
    let lastError = '';
    for (let attempt = 0; attempt < limits.etcdRequestAttemptsMax; attempt++) {
      const index = (this.preferred + attempt) % this.endpoints.length;
      const endpoint = this.endpoints[index]!;
      const outcome = await this.post(`${endpoint}${path}`, payload);
      if (outcome.ok) {
        this.preferred = index;
        return outcome.answer;
      }
      lastError = `${endpoint}: ${outcome.error}`;
      // Back off once every endpoint has failed in this round, not between endpoints.
      const last = attempt + 1 === limits.etcdRequestAttemptsMax;
      if (!last && (attempt + 1) % this.endpoints.length === 0) {
        await new Promise<void>((resolve) => this.env.setTimer(delayMs, resolve));
        delayMs = Math.min(delayMs * 2, limits.etcdRetryDelayMsMax);
      }
    }
    this.preferred = (this.preferred + 1) % this.endpoints.length;
    throw new QuorateError('QUORATE_E_STORE_UNAVAILABLE', 'no etcd endpoint answered', {
      endpoints: [...this.endpoints],
      attempts: limits.etcdRequestAttemptsMax,
      lastError,
    });
  }

  /** An https:// endpoint without TLS options is verified against the system CAs. */
  private send(url: string, payload: string, signal: AbortSignal) {
    return postOnce(url, payload, signal, { http: this.httpAgent, https: this.httpsAgent });
  }

  /** One HTTP attempt: an answer, a retryable failure, or (thrown) a definite etcd error. */
  private async post(
    url: string,
    payload: string,
  ): Promise<{ ok: true; answer: Record<string, unknown> } | { ok: false; error: string }> {
    const controller = new AbortController();
    const cancel = this.env.setTimer(limits.etcdRequestTimeoutMs, () => controller.abort());
    let status: number;
    let text: string;
    try {
      ({ status, text } = await this.send(url, payload, controller.signal));
    } catch (error) {
      return { ok: false, error: controller.signal.aborted ? 'timeout' : describe(error) };
    } finally {
      cancel();
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { ok: false, error: `HTTP ${status}: not JSON` };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return { ok: false, error: `HTTP ${status}: not a JSON object` };
    const answer = parsed as Record<string, unknown>;
    if (status === 200 && answer['error'] === undefined) return { ok: true, answer };
    // Unary errors are {error, message, code}; streamed ones (keepalive) nest them in `error`.
    const nested =
      typeof answer['error'] === 'object' ? (answer['error'] as Record<string, unknown>) : {};
    const grpcCode = int(answer['code'] ?? nested['grpc_code'] ?? nested['code']);
    const rawMessage = answer['message'] ?? nested['message'];
    const message = typeof rawMessage === 'string' ? rawMessage : `HTTP ${status}`;
    if (retryableGrpcCodes.has(grpcCode) || status >= 500) {
      return { ok: false, error: `${message} (code ${grpcCode})` };
    }
    throw new EtcdResponseError(grpcCode, message);
  }
}

/**
 * One POST through the agent of the URL's scheme; the answer's text, read up to one byte past
 * `limits.etcdResponseBytesMax` (a longer one is cut there and refused by the caller).
 */
function postOnce(
  url: string,
  payload: string,
  signal: AbortSignal,
  agents: { http: HttpAgent; https: HttpsAgent | undefined },
): Promise<{ status: number; text: string }> {
  const secure = url.startsWith('https://');
  return new Promise((resolve, reject) => {
    const onResponse = (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > limits.etcdResponseBytesMax) response.destroy();
        else chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('close', () => {
        // Cut off past the bound: the caller sees an oversized answer, not truncated JSON.
        if (bytes > limits.etcdResponseBytesMax) reject(new Error('answer too large'));
        else
          resolve({
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
          });
      });
    };
    const options = {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      signal,
    };
    const request = secure
      ? httpsRequest(url, { ...options, agent: agents.https }, onResponse)
      : httpRequest(url, { ...options, agent: agents.http }, onResponse);
    request.on('error', reject);
    request.end(payload);
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}
