/**
 * `quorate coordinator`: parses flags (each also read from its environment variable), starts the
 * coordinator node on SQLite or etcd, prints where it listens, and stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { hexToBytes } from '@noble/hashes/utils.js';
import { realEnv } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { defaultDetectorOptions, type DetectorOptions } from '../coordinator/party-registry.ts';
import type { Env } from '../core/env.ts';
import { EtcdStore, type EtcdStoreOptions } from '../store/etcd.ts';
import { parseEtcdEndpoints, type EtcdTlsOptions } from '../store/etcd-gateway.ts';
import { checkCertificatePem, checkKeyPair, type TlsKeyPair } from '../transport/tls.ts';
import {
  combinePrincipals,
  defaultPrincipalName,
  parseApiTokensFile,
  principalFromToken,
  type ApiPrincipal,
} from '../api/principals.ts';
import { startCoordinatorNode } from './coordinator-node.ts';
import {
  keyOption,
  logLevel,
  numberOption,
  opt,
  partySecretOption,
  pemOption,
  readBoundedFile,
  required,
  waitForSignal,
  type AdaptProcess,
} from './command-options.ts';
import { loadPolicyOption } from './policy-option.ts';

const coordinatorFlags = {
  listen: { type: 'string' },
  data: { type: 'string' },
  store: { type: 'string' },
  'api-token': { type: 'string' },
  'api-tokens': { type: 'string' },
  'party-secret': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  'phi-threshold': { type: 'string' },
  'down-after-ms': { type: 'string' },
  'blame-cooldown-ms': { type: 'string' },
  policy: { type: 'string' },
  'lease-ttl-ms': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'etcd-ca': { type: 'string' },
  'etcd-cert': { type: 'string' },
  'etcd-key': { type: 'string' },
  'operator-key': { type: 'string' },
  'retention-days': { type: 'string' },
  'archive-dir': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * Runs the coordinator until SIGINT/SIGTERM; returns the exit code. `adapt` is for an entry
 * that runs this command inside a harness (src/cli/chaos-process.ts); `quorate coordinator`
 * passes none.
 */
export async function runCoordinatorCommand(argv: string[], adapt?: AdaptProcess): Promise<number> {
  const { values } = parseArgs({ args: argv, options: coordinatorFlags });
  const listen = listenOption(values);
  const storeUrl = opt(values, 'store', 'QUORATE_STORE') ?? 'sqlite';
  if (storeUrl !== 'sqlite' && !storeUrl.startsWith('etcd://')) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      '--store must be sqlite or etcd://host:port[,host:port…]',
      { store: storeUrl },
    );
  }
  const leaseTtlMs = numberOption(
    values,
    'lease-ttl-ms',
    'QUORATE_LEASE_TTL_MS',
    limits.storeLeaseTtlMsMin,
    limits.storeLeaseTtlMsMax,
  );
  const retentionDays = retentionDaysOption(values);
  const archiveDir = opt(values, 'archive-dir', 'QUORATE_ARCHIVE_DIR');
  const principals = await principalsOption(values);
  const partySecret = partySecretOption(values);
  const tls = await listenerTlsOption(values);
  const etcdTls = await etcdTlsOption(values, storeUrl);
  // The operator key parties are certified under: a hello whose certificate does not verify
  // under it is refused at enrolment (each party also checks its peers' at key generation).
  const operatorKey = keyOption(values, 'operator-key', 'QUORATE_OPERATOR_KEY');
  const plainEnv = realEnv({ logLevel: logLevel(), bindings: { role: 'coordinator' } });
  const { env, wrapLink } = adapt?.(plainEnv) ?? { env: plainEnv };
  const detector = detectorOptions(values);
  const policy = await loadPolicyOption(values);
  // etcd: N replicas share one cluster (linearizable reads, leases); sqlite: one coordinator.
  const store = storeUrl === 'sqlite' ? undefined : await openEtcdStore(storeUrl, env, etcdTls);
  const node = await startCoordinatorNode(env, {
    ...(store === undefined ? {} : { store }),
    ...(leaseTtlMs === undefined ? {} : { leaseTtlMs: Math.round(leaseTtlMs) }),
    ...(retentionDays === undefined ? {} : { retentionDays }),
    ...(archiveDir === undefined ? {} : { archiveDir }),
    detector,
    ...(policy === undefined ? {} : { policy }),
    ...listen,
    dataDir: required(opt(values, 'data', 'QUORATE_DATA'), '--data or QUORATE_DATA'),
    principals,
    passphrase: required(process.env['QUORATE_KEY_PASSPHRASE'], 'QUORATE_KEY_PASSPHRASE'),
    ...(partySecret === undefined ? {} : { partySecret }),
    ...(wrapLink === undefined ? {} : { wrapLink }),
    ...(tls === undefined ? {} : { tls }),
    ...(operatorKey === undefined ? {} : { operatorKey: hexToBytes(operatorKey) }),
  });
  if (values.json)
    process.stdout.write(
      `${JSON.stringify({ event: 'listening', url: node.url, coordinatorKey: node.coordinatorKey })}\n`,
    );
  else {
    process.stdout.write(`quorate coordinator listening on ${node.url}\n`);
    process.stdout.write(
      `coordinator identity key (parties: --coordinator-key): ${node.coordinatorKey}\n`,
    );
  }
  await waitForSignal();
  await node.stop();
  return 0;
}

/**
 * `--retention-days N` (QUORATE_RETENTION_DAYS): finished sessions older than N days are
 * archived and removed; 0 disables; else limits.retentionDaysMin..Max (docs/scale.md).
 */
function retentionDaysOption(values: Record<string, unknown>): number | undefined {
  const days = numberOption(
    values,
    'retention-days',
    'QUORATE_RETENTION_DAYS',
    0,
    limits.retentionDaysMax,
  );
  if (
    days !== undefined &&
    days !== 0 &&
    (!Number.isInteger(days) || days < limits.retentionDaysMin)
  ) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `--retention-days must be 0 (off) or a whole number ${limits.retentionDaysMin}..${limits.retentionDaysMax}: shorter would drop sessions a velocity window still counts`,
      { retentionDays: days },
    );
  }
  return days;
}

/** `--listen HOST:PORT` (or QUORATE_LISTEN), default 127.0.0.1:7420; `[v6]:port` allowed. */
function listenOption(values: Record<string, unknown>): { host: string; port: number } {
  const listen = opt(values, 'listen', 'QUORATE_LISTEN') ?? '127.0.0.1:7420';
  const match = /^([^:]+|\[[^\]]+\]):(\d{1,5})$/.exec(listen);
  if (!match) throw new QuorateError('QUORATE_E_CONFIG', '--listen must be HOST:PORT', { listen });
  return { host: (match[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}

/**
 * Who may call the API: the plain token (principal `default`) and/or named tokens from a
 * file; checked here so a bad file stops the start with its path and problem.
 */
async function principalsOption(values: Record<string, unknown>): Promise<ApiPrincipal[]> {
  const apiToken = opt(values, 'api-token', 'QUORATE_API_TOKEN');
  return combinePrincipals(
    apiToken === undefined ? [] : [principalFromToken(defaultPrincipalName, apiToken)],
    (await loadApiTokensOption(values)) ?? [],
  );
}

/** Failure-detector tunables from flags/env, on top of the defaults. */
function detectorOptions(values: Record<string, unknown>): DetectorOptions {
  const heartbeat = numberOption(
    values,
    'heartbeat-ms',
    'QUORATE_HEARTBEAT_MS',
    limits.heartbeatIntervalMsMin,
    limits.heartbeatIntervalMsMax,
  );
  const phi = numberOption(values, 'phi-threshold', 'QUORATE_PHI_THRESHOLD', 1, 50);
  const downAfter = numberOption(values, 'down-after-ms', 'QUORATE_DOWN_AFTER_MS', 100, 600_000);
  const cooldown = numberOption(
    values,
    'blame-cooldown-ms',
    'QUORATE_BLAME_COOLDOWN_MS',
    0,
    86_400_000,
  );
  const d = defaultDetectorOptions;
  return {
    ...d,
    heartbeatIntervalMs: heartbeat ?? d.heartbeatIntervalMs,
    phi: {
      ...d.phi,
      threshold: phi ?? d.phi.threshold,
      firstIntervalMs: heartbeat ?? d.phi.firstIntervalMs,
    },
    downAfterMs: downAfter ?? d.downAfterMs,
    blameCooldownMs: cooldown ?? d.blameCooldownMs,
  };
}

/** Loads `--api-tokens FILE` (or QUORATE_API_TOKENS_FILE): named principals by token digest. */
async function loadApiTokensOption(
  values: Record<string, unknown>,
): Promise<ApiPrincipal[] | undefined> {
  const path = opt(values, 'api-tokens', 'QUORATE_API_TOKENS_FILE');
  if (path === undefined) return undefined;
  return parseApiTokensFile(
    await readBoundedFile(path, limits.apiTokensFileBytesMax, 'API tokens'),
    path,
  );
}

/**
 * `--tls-cert FILE --tls-key FILE` (QUORATE_TLS_CERT, QUORATE_TLS_KEY): both or neither, and a
 * pair that belongs together, else `QUORATE_E_CONFIG` before anything starts.
 */
async function listenerTlsOption(values: Record<string, unknown>): Promise<TlsKeyPair | undefined> {
  const cert = await pemOption(values, 'tls-cert', 'QUORATE_TLS_CERT');
  const key = await pemOption(values, 'tls-key', 'QUORATE_TLS_KEY');
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new QuorateError('QUORATE_E_CONFIG', '--tls-cert and --tls-key go together: give both');
  }
  checkKeyPair({ cert, key }, '--tls-cert/--tls-key');
  return { cert, key };
}

/**
 * `--etcd-ca FILE [--etcd-cert FILE --etcd-key FILE]` (QUORATE_ETCD_CA, QUORATE_ETCD_CERT,
 * QUORATE_ETCD_KEY): etcd over TLS, verified against that CA, with a client certificate for an
 * etcd that runs `--client-cert-auth`. Only with `--store etcd://…`.
 */
async function etcdTlsOption(
  values: Record<string, unknown>,
  storeUrl: string,
): Promise<EtcdTlsOptions | undefined> {
  const ca = await pemOption(values, 'etcd-ca', 'QUORATE_ETCD_CA');
  const cert = await pemOption(values, 'etcd-cert', 'QUORATE_ETCD_CERT');
  const key = await pemOption(values, 'etcd-key', 'QUORATE_ETCD_KEY');
  if (ca === undefined && cert === undefined && key === undefined) return undefined;
  if (storeUrl === 'sqlite') {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      '--etcd-ca/--etcd-cert/--etcd-key need --store etcd://…',
    );
  }
  if (ca === undefined) {
    throw new QuorateError('QUORATE_E_CONFIG', 'etcd over TLS needs --etcd-ca (the CA of etcd)');
  }
  checkCertificatePem(ca, '--etcd-ca');
  if ((cert === undefined) !== (key === undefined)) {
    throw new QuorateError('QUORATE_E_CONFIG', '--etcd-cert and --etcd-key go together: give both');
  }
  if (cert === undefined || key === undefined) return { ca };
  checkKeyPair({ cert, key }, '--etcd-cert/--etcd-key');
  return { ca, cert, key };
}

/**
 * Opens the etcd store (over TLS when `tls` is given) and checks that it answers; a cluster
 * that does not is `QUORATE_E_STORE_UNAVAILABLE` with the last endpoint's error in the message
 * (a refused client certificate is an operator's mistake to read, not a detail to dig out).
 */
async function openEtcdStore(url: string, env: Env, tls: EtcdTlsOptions | undefined) {
  try {
    if (tls === undefined) return await EtcdStore.open(url, env);
    // The gateway takes `tls` from the store's options (src/store/etcd.ts forwards it).
    const options: EtcdStoreOptions & { tls: EtcdTlsOptions } = {
      endpoints: parseEtcdEndpoints(url, true),
      env,
      tls,
    };
    const store = new EtcdStore(options);
    try {
      await store.getMeta('replica-check');
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  } catch (error) {
    if (!(error instanceof QuorateError) || error.code !== 'QUORATE_E_STORE_UNAVAILABLE')
      throw error;
    const last = error.detail['lastError'];
    const lastError = typeof last === 'string' ? last : error.message;
    throw new QuorateError(
      'QUORATE_E_STORE_UNAVAILABLE',
      `cannot reach etcd at ${url}${tls === undefined ? '' : ' over TLS'}: ${lastError}`,
      error.detail,
    );
  }
}
