/**
 * Boots a coordinator process: data directory, store, identity, runtime, HTTP + WebSocket
 * listener. The process wiring lives here, above the API and the coordinator, so neither has to
 * import the other's assembly.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
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
import { Keystore } from '../store/keystore.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/store.ts';
import type { IdentityKeys } from '../transport/identity.ts';
import type { Link } from '../transport/link.ts';

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
}

/** A running coordinator. */
export interface CoordinatorNode {
  coordinator: Coordinator;
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

/** Listens, or stops the coordinator and its store and fails with `QUORATE_E_CONFIG`. */
async function listen(
  app: FastifyInstance,
  coordinator: Coordinator,
  store: Store,
  options: CoordinatorNodeOptions,
): Promise<string> {
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await coordinator.stop();
    await store.close();
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `cannot listen on ${options.host}:${options.port}: ${String(error)}`,
    );
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return `http://${options.host}:${port}`;
}

/** Starts a coordinator and listens. */
export async function startCoordinatorNode(
  env: Env,
  options: CoordinatorNodeOptions,
): Promise<CoordinatorNode> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
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
  const coordinator = new Coordinator({
    env,
    store,
    identity,
    ownerId,
    ...(options.leaseTtlMs === undefined ? {} : { leaseTtlMs: options.leaseTtlMs }),
    ...(options.partySecret === undefined ? {} : { partySecret: options.partySecret }),
    ...(options.detector === undefined ? {} : { detector: options.detector }),
    ...(options.policy === undefined ? {} : { policy: options.policy }),
  });
  const apiOptions: ApiOptions = { principals: options.principals };
  if (options.wrapLink !== undefined) apiOptions.wrapLink = options.wrapLink;
  const app = buildApi(coordinator, apiOptions);
  await coordinator.start();
  const url = await listen(app, coordinator, store, options);
  env.log.info({ url, ownerId, store: store.kind }, 'coordinator listening');
  return {
    coordinator,
    app,
    url,
    async stop() {
      await coordinator.stop();
      await app.close();
      await store.close();
    },
  };
}
