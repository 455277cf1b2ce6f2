/**
 * A refresh under t−1 malicious parties (`quorate sim --adversary parties`), through the real
 * coordinator: a malicious dealer deals a wrong constant term, spoils an honest receiver's part,
 * or stays silent (rogue-parties.ts, `partyLifecycleAttacks`). A refresh some malicious dealer
 * cheated in must roll back, blame nobody honest, and leave every honest party with its share of
 * the epoch it had, active, nothing staged; the wallet's key never changes. A refresh no
 * malicious party dealt in completes.
 */
import type { SeededRandom } from '../../core/seeded-random.ts';
import { KeyShares } from '../../party/key-shares.ts';
import type { OutcomeViolation } from './check-outcomes.ts';
import type { TargetWallet } from './loot.ts';
import type { RealCoordinator } from './real-coordinator.ts';
import { partyLifecycleAttacks, type AttackPlan } from './rogue-parties.ts';
import type { AttackCounts } from './rogue-signing.ts';
import type { AdversaryWorld } from './world.ts';

/** The attacked refresh's deadline, and the virtual time it is given to end and be told. */
const refreshDeadlineMs = 10_000;
const refreshBudgetMs = 20_000;
const pollMs = 250;

/** Runs one attacked refresh of `target`; returns what broke the expectations above. */
export async function attackRefresh(
  world: AdversaryWorld,
  real: RealCoordinator,
  adversary: { attacks: AttackPlan; counts: AttackCounts; malicious: readonly string[] },
  target: TargetWallet,
  rng: SeededRandom,
): Promise<OutcomeViolation[]> {
  const { attacks, counts, malicious } = adversary;
  const attack = partyLifecycleAttacks[rng.int(0, partyLifecycleAttacks.length - 1)];
  if (attack === undefined) return [];
  const before = counts.byKind[attack] ?? 0;
  attacks.attack = attack;
  const { coordinator } = real;
  const request = { kind: 'refresh' as const, deadlineMs: refreshDeadlineMs };
  const started = await coordinator.startOperation(target.walletId, request).then(
    (op) => op,
    () => undefined,
  );
  if (started === undefined) return [];
  let { op } = await coordinator.getOperation(started.operationId);
  for (let waited = 0; waited < refreshBudgetMs && op.phase !== 'ended'; waited += pollMs) {
    await world.run(pollMs);
    ({ op } = await coordinator.getOperation(started.operationId));
  }
  attacks.attack = undefined;
  const wallet = await coordinator.getWallet(target.walletId);
  const cheated = (counts.byKind[attack] ?? 0) > before;
  const out: OutcomeViolation[] = [];
  const bad = (message: string, detail: Record<string, unknown>) =>
    out.push({ invariant: 'KEYGEN', message, detail: { attack, ...detail } });
  if (wallet.publicKey !== target.publicKey) bad('the group key changed', {});
  const blamed = op.error?.blamed ?? [];
  if (blamed.some((p) => !malicious.includes(p))) bad('an honest party was blamed', { blamed });
  if (cheated && op.status !== 'failed') bad('a cheated refresh did not roll back', { op });
  if (!cheated && op.status !== 'done') bad('an honest refresh did not complete', { op });
  const epoch = wallet.epoch ?? 0;
  for (const p of target.parties.filter((id) => !malicious.includes(id))) {
    const party = world.party(p);
    const shares = new KeyShares(party.journal, party.sealer);
    const held = shares.has(target.walletId) ? (shares.get(target.walletId).epoch ?? 0) : null;
    if (held !== epoch || shares.staged(target.walletId) !== undefined)
      bad('an honest party does not hold the active epoch alone', { partyId: p, epoch, held });
  }
  return out;
}
