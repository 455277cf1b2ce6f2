/**
 * An in-process coordinator on a memory store with the HTTP API built over it (Fastify inject,
 * no socket), and one 2-of-3 bip340 wallet record of parties a, b, c (no real keys: the tests
 * using it never reach signing).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ApiPrincipal } from '../../src/api/principals.ts';
import { buildApi } from '../../src/api/server.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { realEnv } from '../../src/core/env.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { WalletRecord } from '../../src/store/store.ts';
import { generateIdentity } from '../../src/transport/identity.ts';

export const testApiToken = 'test-token-0123456789';

/** The coordinator, its store and wallet; `start()` starts it and builds the API. */
export function inProcessApi(walletId: string) {
  const env = realEnv({ logLevel: 'silent' });
  const store = new MemoryStore({ clock: env });
  const coordinator = new Coordinator({
    env,
    store,
    identity: generateIdentity(new Uint8Array(randomBytes(64))),
    recoveryGraceMs: 0,
  });
  const wallet: WalletRecord = {
    walletId,
    scheme: 'bip340',
    threshold: 2,
    parties: ['a', 'b', 'c'],
    publicKey: '00'.repeat(32),
    publicPackage: {},
    createdMs: 1,
  };
  return {
    env,
    store,
    coordinator,
    wallet,
    /** Starts the coordinator, builds the API (with `principals`, if given) and adds the wallet. */
    async start(
      principals?: ApiPrincipal[],
      apiToken: string = testApiToken,
    ): Promise<FastifyInstance> {
      await coordinator.start();
      const app = buildApi(coordinator, {
        apiToken,
        ...(principals === undefined ? {} : { principals }),
      });
      await store.createWallet(wallet);
      return app;
    },
  };
}
