/**
 * Validates the `rules:` section of a policy file into a {@link RuleSet}. Every fault throws
 * `QUORATE_E_POLICY_INVALID` with `detail.path` (e.g. `rules.tiers.retail-2of3[1].when`) and
 * `detail.problem`, which starts with the rule's id when the fault is inside a rule.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { QuorateError } from '../../core/errors.ts';
import type { RawObject } from '../policy-field-reader.ts';
import {
  childPath,
  policyInvalid,
  readList,
  readObject,
  readNumber,
  requireChoice,
  requireId,
  requireNumber,
  show,
} from '../policy-field-reader.ts';
import type { PolicyFile, ShareType } from '../policy-schema.ts';
import { shareTypes } from '../policy-schema.ts';
import type { CompiledCondition } from './cel-condition.ts';
import { compileCondition } from './cel-condition.ts';
import { isDecimalString } from './decimal-amount.ts';
import { sampleBindings } from './rule-context.ts';
import { ruleLimits } from '../../core/limits.ts';
import type {
  ApprovalSpec,
  Approver,
  AssetSpec,
  QuorumSpec,
  Rule,
  RuleSet,
  Tier,
  VelocityLimit,
} from './rule-schema.ts';
import { parseWindowMs } from './velocity.ts';

const sectionKeys = ['assets', 'lists', 'approvers', 'tiers', 'wallets'];
const ruleKeys = ['id', 'description', 'when', 'effect', 'quorum', 'approvals', 'velocity'];
const descriptionCharsMax = 200;

/** What every tier validation needs from the rest of the file. */
interface FileScope {
  readonly file: PolicyFile;
  readonly lists: ReadonlyMap<string, readonly string[]>;
  readonly approvers: ReadonlyMap<string, Approver>;
  readonly shareTypes: ReadonlyMap<string, ShareType>;
}

/** Validates `rules` (the raw section, or undefined when absent) against the validated file. */
export function validateRuleSection(raw: unknown, file: PolicyFile): RuleSet {
  const shareTypeMap = new Map(file.shares.map((s) => [s.id, s.type]));
  const section = raw === undefined ? {} : readObject(raw, 'rules', sectionKeys);
  const assets = readAssets(section['assets']);
  const lists = readLists(section['lists']);
  const approvers = readApprovers(section['approvers']);
  const scope: FileScope = { file, lists, approvers, shareTypes: shareTypeMap };
  const tiers = readTiers(section['tiers'], scope);
  const wallets = readWallets(section['wallets'], tiers);
  return { assets, lists, approvers, tiers, wallets, shareTypes: shareTypeMap };
}

/** Reads an optional mapping into entries with checked keys. */
function readMapping(value: unknown, path: string, max: number): [string, unknown, string][] {
  if (value === undefined) return [];
  const raw = readObject(value, path, [], Object.keys(value ?? {}));
  const entries = Object.entries(raw);
  if (entries.length > max) throw policyInvalid(path, `has more than ${max} entries`);
  return entries.map(([key, v]) => {
    const keyPath = childPath(path, key);
    return [requireId(key, keyPath), v, keyPath];
  });
}

function readAssets(value: unknown): ReadonlyMap<string, AssetSpec> {
  const assets = new Map<string, AssetSpec>();
  for (const [id, raw, path] of readMapping(value, 'rules.assets', ruleLimits.assetsMax)) {
    const spec = readObject(raw, path, ['decimals']);
    const decimals = requireNumber(spec['decimals'], childPath(path, 'decimals'), {
      min: 0,
      max: ruleLimits.assetDecimalsMax,
      integer: true,
    });
    assets.set(id, { id, decimals });
  }
  return assets;
}

function readLists(value: unknown): ReadonlyMap<string, readonly string[]> {
  const lists = new Map<string, readonly string[]>();
  for (const [name, raw, path] of readMapping(value, 'rules.lists', ruleLimits.listsMax)) {
    const entries = readList(raw, path, ruleLimits.listEntriesMax) ?? [];
    lists.set(
      name,
      entries.map((entry, i) => {
        const ok =
          typeof entry === 'string' &&
          entry.length > 0 &&
          entry.length <= ruleLimits.listEntryCharsMax;
        if (!ok) {
          throw policyInvalid(
            childPath(path, i),
            `must be a non-empty string of at most ${ruleLimits.listEntryCharsMax} characters, got ${show(entry)}`,
          );
        }
        return entry;
      }),
    );
  }
  return lists;
}

function readApprovers(value: unknown): ReadonlyMap<string, Approver> {
  const approvers = new Map<string, Approver>();
  const keys = new Map<string, string>();
  const list = readList(value, 'rules.approvers', ruleLimits.approversMax) ?? [];
  list.forEach((raw, i) => {
    const path = childPath('rules.approvers', i);
    const spec = readObject(raw, path, ['id', 'publicKey']);
    const id = requireId(spec['id'], childPath(path, 'id'));
    const publicKey = readPublicKey(spec['publicKey'], childPath(path, 'publicKey'));
    if (approvers.has(id)) throw policyInvalid(childPath(path, 'id'), `duplicate approver '${id}'`);
    const holder = keys.get(publicKey);
    if (holder !== undefined) {
      // One key under two names would let one person count twice towards k.
      throw policyInvalid(childPath(path, 'publicKey'), `same key as approver '${holder}'`);
    }
    approvers.set(id, { id, publicKey });
    keys.set(publicKey, id);
  });
  return approvers;
}

function readPublicKey(value: unknown, path: string): string {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{64}$/.test(value)) {
    throw policyInvalid(path, `must be a 32-byte Ed25519 public key in hex, got ${show(value)}`);
  }
  const publicKey = value.toLowerCase();
  let smallOrder: boolean;
  try {
    smallOrder = ed25519.Point.fromBytes(hexToBytes(publicKey)).isSmallOrder();
  } catch {
    throw policyInvalid(path, 'is not a valid Ed25519 point');
  }
  if (smallOrder) throw policyInvalid(path, 'is a small-order Ed25519 point (a weak key)');
  return publicKey;
}

function readTiers(value: unknown, scope: FileScope): ReadonlyMap<string, Tier> {
  const tiers = new Map<string, Tier>();
  for (const [id, raw, path] of readMapping(value, 'rules.tiers', ruleLimits.tiersMax)) {
    const policy = scope.file.policies.find((p) => p.id === id);
    if (policy === undefined) {
      const known = scope.file.policies.map((p) => p.id).join(', ') || 'none';
      throw policyInvalid(path, `tier '${id}' names no policies[].id (known: ${known})`);
    }
    const list = readList(raw, path, ruleLimits.rulesPerTierMax);
    if (list === undefined) throw policyInvalid(path, 'must be a list of rules');
    const tier = { id, threshold: policy.threshold, shares: policy.shares };
    const rules = list.map((r, i) => readRule(r, childPath(path, i), tier, scope));
    const cost = rules.reduce((sum, rule) => sum + rule.condition.cost, 0);
    if (cost > ruleLimits.tierCostMax) {
      throw policyInvalid(
        path,
        `the conditions of tier '${id}' cost up to ${cost} evaluation steps per request together (limit ${ruleLimits.tierCostMax})`,
      );
    }
    const seen = new Set<string>();
    rules.forEach((rule) => {
      if (seen.has(rule.id)) {
        throw policyInvalid(childPath(rule.path, 'id'), `duplicate rule id '${rule.id}'`);
      }
      seen.add(rule.id);
    });
    tiers.set(id, { ...tier, rules });
  }
  return tiers;
}

type TierShape = Omit<Tier, 'rules'>;

/** Re-throws invalid-policy errors raised inside rule `id` with the rule named in the problem. */
function namingRule<T>(id: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof QuorateError) || error.code !== 'QUORATE_E_POLICY_INVALID') throw error;
    const path = String(error.detail['path']);
    const problem = String(error.detail['problem']);
    throw policyInvalid(path, `rule '${id}': ${problem}`);
  }
}

function readRule(value: unknown, path: string, tier: TierShape, scope: FileScope): Rule {
  const raw = readObject(value, path, ruleKeys);
  const id = requireId(raw['id'], childPath(path, 'id'));
  return namingRule(id, () => readRuleBody(raw, id, path, tier, scope));
}

function readRuleBody(
  raw: RawObject,
  id: string,
  path: string,
  tier: TierShape,
  scope: FileScope,
): Rule {
  const description = raw['description'];
  if (
    description !== undefined &&
    (typeof description !== 'string' || description.length > descriptionCharsMax)
  ) {
    throw policyInvalid(
      childPath(path, 'description'),
      `must be a string of at most ${descriptionCharsMax} characters`,
    );
  }
  const effect = requireChoice(raw['effect'], childPath(path, 'effect'), ['allow', 'deny']);
  const when = readWhen(raw['when'], childPath(path, 'when'), scope);
  if (effect === 'deny') {
    for (const key of ['quorum', 'approvals', 'velocity']) {
      if (raw[key] !== undefined) {
        throw policyInvalid(
          childPath(path, key),
          `a deny rule takes no '${key}' (it only denies, and deny wins over every allow)`,
        );
      }
    }
  }
  return {
    id,
    effect,
    ...(typeof description === 'string' ? { description } : {}),
    when: when.source,
    condition: when,
    quorum: readQuorum(raw['quorum'], childPath(path, 'quorum'), tier, scope),
    approvals: readApprovals(raw['approvals'], childPath(path, 'approvals'), scope),
    velocity: readVelocity(raw['velocity'], childPath(path, 'velocity')),
    path,
  };
}

function readWhen(value: unknown, path: string, scope: FileScope): CompiledCondition {
  if (value === undefined) throw policyInvalid(path, 'is required (a CEL condition)');
  if (typeof value !== 'string' || value.trim() === '') {
    throw policyInvalid(path, `must be a non-empty CEL string, got ${show(value)}`);
  }
  if (value.length > ruleLimits.conditionCharsMax) {
    throw policyInvalid(path, `is longer than ${ruleLimits.conditionCharsMax} characters`);
  }
  const compiled = compileCondition(value, scope.lists, sampleBindings(scope.lists));
  if (!compiled.ok) throw policyInvalid(path, compiled.problem);
  return compiled.condition;
}

function readQuorum(value: unknown, path: string, tier: TierShape, scope: FileScope): QuorumSpec {
  if (value === undefined) return { minSigners: null, requireTypes: [], requireShares: [] };
  const raw = readObject(value, path, ['minSigners', 'requireTypes', 'requireShares']);
  const minPath = childPath(path, 'minSigners');
  const minSigners = readNumber(raw['minSigners'], minPath, {
    min: 1,
    max: tier.shares.length,
    integer: true,
  });
  if (minSigners !== undefined && minSigners < tier.threshold) {
    throw policyInvalid(
      minPath,
      `${minSigners} is below the threshold ${tier.threshold} of policy '${tier.id}' (FROST needs at least t signers)`,
    );
  }
  const typesPath = childPath(path, 'requireTypes');
  const types = readDistinct(raw['requireTypes'], typesPath, (t, p) =>
    requireChoice(t, p, shareTypes),
  );
  types.forEach((type, i) => {
    if (!tier.shares.some((s) => scope.shareTypes.get(s) === type)) {
      throw policyInvalid(
        childPath(typesPath, i),
        `no share of policy '${tier.id}' has type '${type}'`,
      );
    }
  });
  const sharesPath = childPath(path, 'requireShares');
  const shares = readDistinct(raw['requireShares'], sharesPath, requireId);
  shares.forEach((share, i) => {
    if (!tier.shares.includes(share)) {
      throw policyInvalid(
        childPath(sharesPath, i),
        `share '${share}' is not in policy '${tier.id}' (${tier.shares.join(', ')})`,
      );
    }
  });
  return { minSigners: minSigners ?? null, requireTypes: types, requireShares: shares };
}

/** Reads an optional list of distinct items. */
function readDistinct<T extends string>(
  value: unknown,
  path: string,
  readOne: (v: unknown, p: string) => T,
): readonly T[] {
  const list = readList(value, path, ruleLimits.approversMax) ?? [];
  const items = list.map((v, i) => readOne(v, childPath(path, i)));
  const duplicate = items.findIndex((v, i) => items.indexOf(v) !== i);
  if (duplicate >= 0) {
    throw policyInvalid(childPath(path, duplicate), `'${items[duplicate]}' is listed twice`);
  }
  return items;
}

function readApprovals(value: unknown, path: string, scope: FileScope): ApprovalSpec | null {
  if (value === undefined) return null;
  const raw = readObject(value, path, ['k', 'approvers']);
  const listPath = childPath(path, 'approvers');
  const approvers = readDistinct(raw['approvers'], listPath, (a, p) => {
    const id = requireId(a, p);
    if (!scope.approvers.has(id)) {
      const known = [...scope.approvers.keys()].join(', ') || 'none';
      throw policyInvalid(p, `unknown approver '${id}' (rules.approvers: ${known})`);
    }
    return id;
  });
  if (approvers.length === 0) throw policyInvalid(listPath, 'must list at least one approver');
  const k = requireNumber(raw['k'], childPath(path, 'k'), {
    min: 1,
    max: approvers.length,
    integer: true,
  });
  return { k, approvers };
}

function readVelocity(value: unknown, path: string): readonly VelocityLimit[] {
  const list = readList(value, path, ruleLimits.velocityLimitsPerRuleMax) ?? [];
  return list.map((item, i) => {
    const where = childPath(path, i);
    const raw = readObject(item, where, ['window', 'maxAmount', 'maxCount']);
    const window = raw['window'];
    const windowMs = typeof window === 'string' ? parseWindowMs(window) : null;
    if (typeof window !== 'string' || windowMs === null) {
      throw policyInvalid(
        childPath(where, 'window'),
        `must be like 90m, 24h or 7d, between 1m and 30d, got ${show(window)}`,
      );
    }
    const maxAmount = raw['maxAmount'];
    if (maxAmount !== undefined && (typeof maxAmount !== 'string' || !isDecimalString(maxAmount))) {
      throw policyInvalid(
        childPath(where, 'maxAmount'),
        `must be a quoted decimal string such as "10000" (YAML numbers lose precision), got ${show(maxAmount)}`,
      );
    }
    const maxCount = readNumber(raw['maxCount'], childPath(where, 'maxCount'), {
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
      integer: true,
    });
    if (maxAmount === undefined && maxCount === undefined) {
      throw policyInvalid(where, 'needs maxAmount, maxCount or both');
    }
    return {
      window,
      windowMs,
      maxAmount: typeof maxAmount === 'string' ? maxAmount : null,
      maxCount: maxCount ?? null,
    };
  });
}

function readWallets(
  value: unknown,
  tiers: ReadonlyMap<string, Tier>,
): ReadonlyMap<string, string> {
  const wallets = new Map<string, string>();
  for (const [walletId, raw, path] of readMapping(
    value,
    'rules.wallets',
    ruleLimits.walletBindingsMax,
  )) {
    if (tiers.has(walletId)) throw policyInvalid(path, `wallet id '${walletId}' is also a tier id`);
    if (typeof raw !== 'string' || !tiers.has(raw)) {
      const known = [...tiers.keys()].join(', ') || 'none';
      throw policyInvalid(path, `must name a tier (known: ${known}), got ${show(raw)}`);
    }
    wallets.set(walletId, raw);
  }
  return wallets;
}
