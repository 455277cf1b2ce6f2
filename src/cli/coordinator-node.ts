/**
 * Boots a coordinator process: data directory, store, identity, runtime, HTTP + WebSocket
 * listener. The process wiring lives here, above the API and the coordinator, so neither has to
 * import the other's assembly.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { join } from 'node:path';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { FastifyInstance } from 'fastify';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { buildApi, type ApiOptions } from '../api/server.ts';
import type { ApiPrincipal } from '../api/principals.ts';
import { Coordinator } from '../coordinator/coordinator.ts';
import {
  loadLocalIdentity,
  loadReplicaId,
  openCoordinatorMeta,
} from '../coordinator/meta-store.ts';
import type { DetectorOptions } from '../coordinator/party-registry.ts';
import { loadSharedIdentity } from '../coordinator/shared-identity.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';
import { limits } from '../core/limits.ts';
import { Retention } from '../coordinator/retention.ts';
import { Keystore } from '../store/keystore.ts';
import { secureDataDir, tightenDataDir } from '../store/data-dir.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/store.ts';
import type { IdentityKeys } from '../transport/identity.ts';
import type { Link } from '../transport/link.ts';
import type { TlsKeyPair } from '../transport/tls.ts';

/** Options of `quorate coordinator`. */
export interface CoordinatorNodeOptions {
  host: string;
  port: number;
  dataDir: string;
  /** Who may call the API: `QUORATE_API_TOKEN` as `default` and `--api-tokens FILE`. */
  principals: readonly ApiPrincipal[];
  passphrase: string;
  partySecret?: string;
  store?: Store;
  detector?: DetectorOptions;
  policy?: LoadedPolicy;
  /** Store lease ttl of this replica (default limits.coordinatorLeaseTtlMsDefault). */
  leaseTtlMs?: number;
  /** Wraps every party link before the coordinator sees it (the chaos harness's latency). */
  wrapLink?: (link: Link) => Link;
  /** Serve HTTPS and WSS with this certificate and key (PEM) instead of plain HTTP and WS. */
  tls?: TlsKeyPair;
  /** The operator key (32 bytes) party certificates must verify under at enrolment. */
  operatorKey?: Uint8Array;
  /** Finished sessions older than this are archived and removed (default limits.retentionDaysDefault; 0: off). */
  retentionDays?: number;
  /** Where retention writes its day files (default `<dataDir>/archive`). */
  archiveDir?: string;
}

/** A running coordinator. */
export interface CoordinatorNode {
  coordinator: Coordinator;
  app: FastifyInstance;
  url: string;
  /** The coordinator's Ed25519 identity key (hex): what parties pin (`--coordinator-key`). */
  coordinatorKey: string;
  stop(): Promise<void>;
}

/**
 * Serves `app` over TLS on a listener of our own: Fastify is built (src/api/server.ts) before
 * the certificate matters, so the HTTPS server hands every request and WebSocket upgrade to
 * the handlers Fastify and the party endpoint registered on `app.server`, which never listens.
 */
async function listenTls(app: FastifyInstance, options: CoordinatorNodeOptions, tls: TlsKeyPair) {
  await app.ready();
  const server = createHttpsServer({ cert: tls.cert, key: tls.key }, (request, response) =>
    app.server.emit('request', request, response),
  );
  server.on('upgrade', (request, socket, head) =>
    app.server.emit('upgrade', request, socket, head),
  );
  // Malformed requests get the contract's error shape over TLS too (Fastify's handler listens
  // on app.server), and the same timeouts Fastify gave its own server apply here.
  server.on('clientError', (error, socket) => app.server.emit('clientError', error, socket));
  server.requestTimeout = app.server.requestTimeout;
  server.headersTimeout = app.server.headersTimeout;
  server.keepAliveTimeout = app.server.keepAliveTimeout;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Where the coordinator listens: Fastify's own HTTP server, or the HTTPS one. */
interface Listener {
  url: string;
  https: HttpsServer | undefined;
}

/** Listens, or stops the coordinator and its store and fails with `QUORATE_E_CONFIG`. */
async function listen(
  app: FastifyInstance,
  coordinator: Coordinator,
  store: Store,
  options: CoordinatorNodeOptions,
): Promise<Listener> {
  let https: HttpsServer | undefined;
  try {
    if (options.tls === undefined) await app.listen({ host: options.host, port: options.port });
    else https = await listenTls(app, options, options.tls);
  } catch (error) {
    await coordinator.stop();
    await app.close();
    await store.close();
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `cannot listen on ${options.host}:${options.port}: ${String(error)}`,
    );
  }
  const address = (https ?? app.server).address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `${https ? 'https' : 'http'}://${host}:${port}`, https };
}

/** Stops accepting, drops open connections (party sockets included), then closes the server. */
function closeHttps(server: HttpsServer): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Starts a coordinator and listens. */
export async function startCoordinatorNode(
  env: Env,
  options: CoordinatorNodeOptions,
): Promise<CoordinatorNode> {
  // Owner only, checked and tightened at every start (issue 12 finding 8).
  secureDataDir(options.dataDir);
  // The coordinator's own identity key signs its envelopes; sealed at rest like a party's.
  const keystore = Keystore.open(options.dataDir, options.passphrase, env.randomBytes);
  const meta = openCoordinatorMeta(options.dataDir, keystore);
  const store =
    options.store ?? new SqliteStore(join(options.dataDir, 'store.sqlite'), { clock: env });
  let identity: IdentityKeys;
  try {
    // A shared store means replicas: they all present the one identity kept in the store.
    identity =
      store.kind === 'etcd'
        ? await loadSharedIdentity(store, options.passphrase, env)
        : loadLocalIdentity(meta, env);
  } catch (error) {
    await store.close();
    throw error;
  }
  const ownerId = loadReplicaId(meta, env);
  tightenDataDir(options.dataDir);
  const coordinator = new Coordinator({
    env,
    store,
    identity,
    ownerId,
    ...(options.leaseTtlMs === undefined ? {} : { leaseTtlMs: options.leaseTtlMs }),
    ...(options.partySecret === undefined ? {} : { partySecret: options.partySecret }),
    ...(options.detector === undefined ? {} : { detector: options.detector }),
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    ...(options.operatorKey === undefined ? {} : { operatorKey: options.operatorKey }),
  });
  const apiOptions: ApiOptions = { principals: options.principals, log: env.log };
  if (options.wrapLink !== undefined) apiOptions.wrapLink = options.wrapLink;
  const app = buildApi(coordinator, apiOptions);
  await coordinator.start();
  const retention = new Retention({
    env,
    store,
    log: env.log.child({ component: 'retention' }),
    archiveDir: options.archiveDir ?? join(options.dataDir, 'archive'),
    retentionDays: options.retentionDays ?? limits.retentionDaysDefault,
    metrics: coordinator.metrics,
  });
  retention.start();
  const { url, https } = await listen(app, coordinator, store, options);
  env.log.info({ url, ownerId, store: store.kind }, 'coordinator listening');
  return {
    coordinator,
    app,
    url,
    coordinatorKey: bytesToHex(identity.signPublic),
    async stop() {
      retention.stop();
      await coordinator.stop();
      if (https !== undefined) await closeHttps(https);
      await app.close();
      await store.close();
    },
  };
}
