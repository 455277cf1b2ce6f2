/**
 * The takeover scan's memory of revoked earlier leases is bounded (a replica that loses its
 * lease again and again must not grow it for its whole life): past the bound the oldest is
 * forgotten, which costs one more revoke call for it, never a missed revoke.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realEnv } from '../../src/core/env.ts';
import { limits } from '../../src/core/limits.ts';
import { CoordinatorMetrics } from '../../src/coordinator/metrics.ts';
import { Ownership, type OwnershipDeps } from '../../src/coordinator/ownership.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { Lease } from '../../src/store/store.ts';

test('ownership remembers at most ownLeasesRevokedMax revoked leases, the latest ones', async () => {
  const env = realEnv({ logLevel: 'silent' });
  const store = new MemoryStore({ clock: env });
  const revoked: string[] = [];
  store.revokeLease = async (lease: Lease) => {
    revoked.push(lease.leaseId);
  };
  const deps: Omit<OwnershipDeps, 'replica' | 'runners'> = {
    env,
    store,
    metrics: new CoordinatorMetrics(),
    log: env.log,
    admitting: new Set(),
    scanIntervalMs: 500,
  };
  // revokeOwn reads neither the replica nor the runners.
  const ownership = new Ownership(deps as OwnershipDeps);
  const lease = (i: number) => ({ leaseId: `l${i}`, ownerId: 'replica-a' });
  const count = limits.ownLeasesRevokedMax + 1;
  for (let i = 0; i < count; i++) await ownership.revokeOwn(lease(i));
  assert.equal(revoked.length, count);
  await ownership.revokeOwn(lease(count - 1)); // remembered: not revoked again
  assert.equal(revoked.length, count);
  await ownership.revokeOwn(lease(0)); // forgotten (the oldest): revoked again
  assert.deepEqual(revoked.slice(count), ['l0']);
});
