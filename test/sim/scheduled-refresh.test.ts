/**
 * Scheduled refresh (refreshEveryDays) on the simulator's virtual clock: a wallet whose shares
 * are older than its interval is refreshed by the coordinator's sweep, not again before it is
 * due, and while a party of the wallet is down it backs off and refreshes once it is back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limits } from '../../src/core/limits.ts';
import { deploy } from '../../src/sim/deploy.ts';

test('a due wallet is refreshed when every party is alive, with back-off while one is down', async () => {
  const run = await deploy({ seed: 3, kind: 'none', lifecycle: true });
  const { cluster, scheduler, wallet } = run;
  const coordinator = cluster.coordinator;
  assert.ok(coordinator !== undefined);
  const read = async () => (await cluster.store.getWallet(wallet.walletId))!;
  // The fixture wallet was made at time 0 of the store's clock: a one-day interval is overdue.
  const down = wallet.parties[0]!;
  cluster.crashParty(down);
  await scheduler.runUntil(scheduler.nowMs + 10_000);
  await coordinator.setRefreshSchedule(wallet.walletId, 1);
  await scheduler.runUntil(scheduler.nowMs + 5_000);
  assert.equal((await read()).epoch ?? 0, 0, 'no refresh while a party is down');
  assert.equal((await read()).operation, undefined, 'nor any operation started');
  cluster.restartParty(down);
  // The first try failed: the next one waits out the back-off.
  await scheduler.runUntil(scheduler.nowMs + limits.refreshBackoffMsMin + 5_000);
  const refreshed = await read();
  assert.equal(refreshed.epoch, 1, JSON.stringify(refreshed.operation));
  assert.equal(refreshed.operation?.kind, 'refresh');
  assert.equal(refreshed.operation?.status, 'done');
  assert.equal(refreshed.publicKey, wallet.publicKey);
  assert.ok((refreshed.renewedMs ?? 0) > 0);
  // Not due again for a day.
  await scheduler.runUntil(scheduler.nowMs + 30_000);
  assert.equal((await read()).epoch, 1);
  const metrics = await coordinator.metrics.registry.metrics();
  const age = metrics.match(/quorate_wallet_seconds_since_refresh\{wallet="[^"]+"\} ([\d.]+)/);
  assert.ok(age !== null && Number(age[1]) < 60, `the age metric reads ${age?.[1]}`);
});
