/** Boots a coordinator process: store, identity, runtime, HTTP + WebSocket listener. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { buildApi } from '../api/server.ts';
import type { ApiPrincipal } from '../api/principals.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/store.ts';
import { Keystore } from '../store/keystore.ts';
import { SqliteJournal } from '../party/journal-sqlite.ts';
import { loadIdentity } from '../party/node.ts';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Coordinator } from './coordinator.ts';
import { loadSharedIdentity } from './shared-identity.ts';
import type { DetectorOptions } from './party-registry.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';

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
}

/** A running coordinator. */
export interface CoordinatorNode {
  coordinator: Coordinator;
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

/**
 * This data directory's replica id (its owner id in the store), created once: a restarted
 * replica is the same owner and takes its own sessions back at once; two data directories are
 * two replicas.
 */
function replicaId(meta: SqliteJournal, env: Env): string {
  const existing = meta.getMeta('replica-id');
  if (existing !== undefined) return existing;
  const id = `replica-${bytesToHex(env.randomBytes(6))}`;
  meta.setMeta('replica-id', id);
  return id;
}

/** Starts a coordinator and listens. */
export async function startCoordinatorNode(
  env: Env,
  options: CoordinatorNodeOptions,
): Promise<CoordinatorNode> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  // The coordinator's own identity key signs its envelopes; sealed at rest like a party's.
  const keystore = Keystore.open(options.dataDir, options.passphrase, env.randomBytes);
  const meta = new SqliteJournal(join(options.dataDir, 'identity.sqlite'), env.nowMs());
  const store =
    options.store ?? new SqliteStore(join(options.dataDir, 'store.sqlite'), { clock: env });
  let identity;
  try {
    // A shared store means replicas: they all present the one identity kept in the store.
    identity =
      store.kind === 'etcd'
        ? await loadSharedIdentity(store, options.passphrase, env)
        : loadIdentity(keystore, meta, env);
  } catch (error) {
    meta.close();
    await store.close();
    throw error;
  }
  const ownerId = replicaId(meta, env);
  meta.close();
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
  const app = buildApi(coordinator, { principals: options.principals });
  await coordinator.start();
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
  const url = `http://${options.host}:${port}`;
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
