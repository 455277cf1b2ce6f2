/** Boots a coordinator process: store, identity, runtime, HTTP + WebSocket listener. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { buildApi } from '../api/server.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/store.ts';
import { Keystore } from '../party/keystore.ts';
import { SqliteJournal } from '../party/journal-sqlite.ts';
import { loadIdentity } from '../party/node.ts';
import { Coordinator } from './coordinator.ts';
import type { DetectorOptions } from './party-registry.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';

/** Options of `quorate coordinator`. */
export interface CoordinatorNodeOptions {
  host: string;
  port: number;
  dataDir: string;
  apiToken: string;
  passphrase: string;
  partySecret?: string;
  store?: Store;
  detector?: DetectorOptions;
  policy?: LoadedPolicy;
}

/** A running coordinator. */
export interface CoordinatorNode {
  coordinator: Coordinator;
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
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
  const identity = loadIdentity(keystore, meta, env);
  meta.close();
  const store = options.store ?? new SqliteStore(join(options.dataDir, 'store.sqlite'));
  const coordinator = new Coordinator({
    env,
    store,
    identity,
    ...(options.partySecret === undefined ? {} : { partySecret: options.partySecret }),
    ...(options.detector === undefined ? {} : { detector: options.detector }),
    ...(options.policy === undefined ? {} : { policy: options.policy }),
  });
  const app = buildApi(coordinator, { apiToken: options.apiToken });
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
  env.log.info({ url }, 'coordinator listening');
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
