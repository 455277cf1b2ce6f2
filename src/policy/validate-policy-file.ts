/**
 * Validates a parsed policy document (YAML or JSON) into a {@link PolicyFile}. Unknown keys are
 * rejected with a path-named error everywhere except the top-level `rules` section, which belongs
 * to the signing-time policy engine and is accepted and ignored here.
 */
import { policyLimits } from '../core/limits.ts';
import {
  childPath,
  policyInvalid,
  readBoolean,
  readList,
  readNumber,
  readObject,
  requireChoice,
  requireId,
  requireNumber,
  show,
} from './policy-field-reader.ts';
import type {
  GroupSpec,
  PolicyFile,
  PolicySpec,
  RecommendSpec,
  ShareSpec,
  SimulationSpec,
} from './policy-schema.ts';
import { shareTypes } from './policy-schema.ts';
import {
  readDailyOnline,
  readMaintenance,
  readOutage,
  readRandomProcess,
} from './validate-component.ts';
import { checkGroupReferences } from './group-closure.ts';

const topKeys = ['slo', 'groups', 'shares', 'policies', 'simulation', 'recommend'] as const;
const componentKeys = [
  'id',
  'availability',
  'mttfHours',
  'mttrHours',
  'groups',
  'maintenance',
  'outage',
];
const shareKeys = [...componentKeys, 'type', 'domain', 'enforcesPolicy', 'dailyOnline'];

/** Validates a parsed document; throws `QUORATE_E_POLICY_INVALID` naming the path and problem. */
export function validatePolicyFile(document: unknown): PolicyFile {
  const raw = readObject(document, '', topKeys, ['rules']);
  const slo =
    readNumber(raw['slo'], 'slo', { min: 0, max: 1, minExclusive: true, maxExclusive: true }) ??
    0.999;
  const groups = (readList(raw['groups'], 'groups', policyLimits.groupsMax) ?? []).map((g, i) =>
    readGroup(g, childPath('groups', i)),
  );
  const sharesRaw = readList(raw['shares'], 'shares', policyLimits.sharesMax);
  if (sharesRaw === undefined || sharesRaw.length === 0) {
    throw policyInvalid('shares', 'is required and must list at least one share');
  }
  const shares = sharesRaw.map((s, i) => readShare(s, childPath('shares', i)));
  const policies = (readList(raw['policies'], 'policies', policyLimits.policiesMax) ?? []).map(
    (p, i) => readPolicy(p, childPath('policies', i)),
  );
  rejectDuplicateIds(groups, 'groups');
  rejectDuplicateIds(shares, 'shares');
  rejectDuplicateIds(policies, 'policies');
  checkGroupReferences(groups, shares);
  const shareIds = new Set(shares.map((s) => s.id));
  for (const policy of policies) checkPolicyShares(policy, shareIds);
  const recommend = readRecommend(raw['recommend'], shareIds);
  return {
    slo,
    groups,
    shares,
    policies,
    simulation: readSimulation(raw['simulation']),
    recommend,
  };
}

function readGroupList(value: unknown, path: string): readonly string[] {
  const list = readList(value, path, policyLimits.groupsMax) ?? [];
  const ids = list.map((id, i) => requireId(id, childPath(path, i)));
  const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
  if (duplicate !== undefined) throw policyInvalid(path, `lists group '${duplicate}' twice`);
  return ids;
}

function readGroup(value: unknown, path: string): GroupSpec {
  const raw = readObject(value, path, componentKeys);
  return {
    id: requireId(raw['id'], childPath(path, 'id')),
    ...readRandomProcess(raw, path),
    groups: readGroupList(raw['groups'], childPath(path, 'groups')),
    maintenance: readMaintenance(raw['maintenance'], childPath(path, 'maintenance')),
    outage: readOutage(raw['outage'], childPath(path, 'outage')),
    index: indexOf(path),
  };
}

function readShare(value: unknown, path: string): ShareSpec {
  const raw = readObject(value, path, shareKeys);
  return {
    id: requireId(raw['id'], childPath(path, 'id')),
    type: requireChoice(raw['type'], childPath(path, 'type'), shareTypes),
    domain: requireId(raw['domain'], childPath(path, 'domain')),
    enforcesPolicy: readBoolean(raw['enforcesPolicy'], childPath(path, 'enforcesPolicy')) ?? true,
    ...readRandomProcess(raw, path),
    groups: readGroupList(raw['groups'], childPath(path, 'groups')),
    maintenance: readMaintenance(raw['maintenance'], childPath(path, 'maintenance')),
    outage: readOutage(raw['outage'], childPath(path, 'outage')),
    dailyOnline: readDailyOnline(raw['dailyOnline'], childPath(path, 'dailyOnline')),
    index: indexOf(path),
  };
}

function readPolicy(value: unknown, path: string): PolicySpec {
  const raw = readObject(value, path, ['id', 'threshold', 'shares']);
  const id = requireId(raw['id'], childPath(path, 'id'));
  const sharesPath = childPath(path, 'shares');
  const list = readList(raw['shares'], sharesPath, policyLimits.sharesPerPolicyMax);
  if (list === undefined || list.length === 0) throw policyInvalid(sharesPath, 'must list shares');
  const shares = list.map((s, i) => requireId(s, childPath(sharesPath, i)));
  const threshold = requireNumber(raw['threshold'], childPath(path, 'threshold'), {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  if (threshold > shares.length) {
    throw policyInvalid(
      childPath(path, 'threshold'),
      `threshold ${threshold} exceeds n = ${shares.length} shares`,
    );
  }
  return { id, threshold, shares, index: indexOf(path) };
}

function checkPolicyShares(policy: PolicySpec, shareIds: ReadonlySet<string>): void {
  const path = childPath(childPath('policies', policy.index), 'shares');
  const seen = new Set<string>();
  policy.shares.forEach((id, i) => {
    if (!shareIds.has(id)) throw policyInvalid(childPath(path, i), `unknown share '${id}'`);
    if (seen.has(id)) throw policyInvalid(childPath(path, i), `share '${id}' is listed twice`);
    seen.add(id);
  });
}

function readSimulation(value: unknown): SimulationSpec {
  const raw =
    value === undefined
      ? {}
      : readObject(value, 'simulation', ['months', 'seed', 'mttrHoursDefault']);
  const months = readNumber(raw['months'], 'simulation.months', {
    min: policyLimits.monteCarloMonthsMin,
    max: policyLimits.monteCarloMonthsMax,
    integer: true,
  });
  const seed = readNumber(raw['seed'], 'simulation.seed', {
    min: 0,
    max: 2 ** 32 - 1,
    integer: true,
  });
  const mttrHoursDefault = readNumber(raw['mttrHoursDefault'], 'simulation.mttrHoursDefault', {
    min: policyLimits.durationHoursMin,
    max: policyLimits.durationHoursMax,
  });
  return {
    months: months ?? policyLimits.monteCarloMonthsDefault,
    seed: seed ?? 1,
    mttrHoursDefault: mttrHoursDefault ?? policyLimits.mttrHoursDefault,
    explicit: value !== undefined,
  };
}

function readRecommend(value: unknown, shareIds: ReadonlySet<string>): RecommendSpec {
  const keys = ['nMin', 'nMax', 'requireNonCustodial', 'candidates'];
  const raw = value === undefined ? {} : readObject(value, 'recommend', keys);
  const nRange = { min: 1, max: policyLimits.placementSharesMax, integer: true };
  const sharesMin = readNumber(raw['nMin'], 'recommend.nMin', nRange);
  const sharesMax = readNumber(raw['nMax'], 'recommend.nMax', nRange);
  const list = readList(raw['candidates'], 'recommend.candidates', policyLimits.candidatePoolMax);
  const candidates = list?.map((id, i) => {
    const checked = requireId(id, `recommend.candidates[${i}]`);
    if (!shareIds.has(checked))
      throw policyInvalid(`recommend.candidates[${i}]`, `unknown share '${checked}'`);
    return checked;
  });
  const min = sharesMin ?? policyLimits.recommendSharesMinDefault;
  const max = sharesMax ?? Math.max(min, policyLimits.recommendSharesMaxDefault);
  if (min > max) throw policyInvalid('recommend.nMin', `nMin ${min} exceeds nMax ${max}`);
  return {
    sharesMin: min,
    sharesMax: max,
    requireNonCustodial:
      readBoolean(raw['requireNonCustodial'], 'recommend.requireNonCustodial') ?? false,
    candidates: candidates ?? null,
  };
}

function rejectDuplicateIds(items: readonly { id: string; index: number }[], path: string): void {
  const seen = new Map<string, number>();
  for (const item of items) {
    const first = seen.get(item.id);
    if (first !== undefined) {
      throw policyInvalid(
        childPath(childPath(path, item.index), 'id'),
        `duplicate id ${show(item.id)} (also ${path}[${first}])`,
      );
    }
    seen.set(item.id, item.index);
  }
}

function indexOf(path: string): number {
  const match = /\[(\d+)\]$/.exec(path);
  return match === null ? 0 : Number(match[1]);
}
