/**
 * Evaluates a request against the rules of its tier. Pure and deterministic: the same rule set,
 * key, request (with its `nowMs`) and events always give the same decision.
 *
 * Semantics (docs/policy.md):
 * 1. Every rule of the tier is evaluated; file order never changes the effect.
 * 2. Deny wins: any matching deny rule denies (the first in file order is reported).
 * 3. A condition that cannot be evaluated (absent field, type error, overflow) denies: it might
 *    have been a deny, or an allow that adds a requirement.
 * 4. No matching allow rule → deny.
 * 5. Velocity limits of every matching allow rule apply, the current request included.
 * 6. Otherwise allow, with the strictest combination of every matching allow's requirement.
 */
import { assert } from '../../core/assert.ts';
import { shareTypes } from '../policy-schema.ts';
import type { ShareType } from '../policy-schema.ts';
import type { ConditionResult } from './cel-condition.ts';
import { optionalRequestFields } from './cel-condition.ts';
import { buildRuleContext } from './rule-context.ts';
import type { RuleContext, RuleRequest } from './rule-context.ts';
import { ruleLimits } from '../../core/limits.ts';
import type {
  ApprovalGroup,
  QuorumRequirement,
  Rule,
  RuleDecision,
  RuleSet,
  Tier,
} from './rule-schema.ts';
import type { VelocityEvent } from './velocity.ts';
import { velocityLimitExceeded, windowTotals } from './velocity.ts';

/** Finds the tier of a wallet id (through `rules.wallets`) or a tier id; null if neither. */
function resolveTier(ruleSet: RuleSet, tierOrWalletKey: string): Tier | null {
  const tierId = ruleSet.wallets.get(tierOrWalletKey) ?? tierOrWalletKey;
  return ruleSet.tiers.get(tierId) ?? null;
}

/**
 * Evaluates `request` for the wallet or tier `tierOrWalletKey`. `events` are the wallet's counted
 * requests (any order); the request's own event, if `request.sessionId` is set, is excluded.
 */
export function evaluateRules(
  ruleSet: RuleSet,
  tierOrWalletKey: string,
  request: RuleRequest,
  events: readonly VelocityEvent[],
): RuleDecision {
  const tier = resolveTier(ruleSet, tierOrWalletKey);
  if (tier === null) {
    return deny('unknown-rule-set', `no rules for '${tierOrWalletKey}' (not a tier or wallet)`);
  }
  if (events.length > ruleLimits.velocityEventsMax) {
    return deny('velocity', `more than ${ruleLimits.velocityEventsMax} counted events`);
  }
  const built = buildRuleContext(ruleSet, request, events);
  if (!built.ok) return deny('invalid-request', built.problem);
  const results = tier.rules.map((rule) => ({
    rule,
    result: rule.condition.evaluate(built.context.bindings),
  }));
  const denied = results.find(({ rule, result }) => rule.effect === 'deny' && isTrue(result));
  if (denied !== undefined) {
    const { rule } = denied;
    return deny('deny-rule', `denied by rule '${rule.id}' (${explain(rule)})`, rule.id);
  }
  const failed = results.find(({ result }) => !result.ok);
  if (failed !== undefined && !failed.result.ok) {
    const { rule, result } = failed;
    const absent = optionalRequestFields.filter((f) => request.context[f] === undefined);
    const hint = absent.length === 0 ? '' : ` (the request has no ${absent.join(', ')})`;
    const reason = `rule '${rule.id}' could not be evaluated: ${result.problem}${hint}`;
    return deny('evaluation-error', reason, rule.id);
  }
  const allows = results.filter(({ result }) => isTrue(result)).map(({ rule }) => rule);
  if (allows.length === 0) {
    return deny('no-matching-rule', `no allow rule of tier '${tier.id}' matches`);
  }
  const exceeded = firstVelocityBreach(allows, built.context, request, events);
  if (exceeded !== null) return exceeded;
  return {
    effect: 'allow',
    ruleIds: allows.map((r) => r.id),
    requirement: combineRequirements(tier, allows, ruleSet),
  };
}

function isTrue(result: ConditionResult): boolean {
  return result.ok && result.value;
}

function explain(rule: Rule): string {
  return rule.description ?? `when: ${rule.when}`;
}

function deny(
  cause: Exclude<RuleDecision, { effect: 'allow' }>['cause'],
  reason: string,
  ruleId?: string,
): RuleDecision {
  return ruleId === undefined
    ? { effect: 'deny', cause, reason }
    : { effect: 'deny', cause, ruleId, reason };
}

function firstVelocityBreach(
  allows: readonly Rule[],
  context: RuleContext,
  request: RuleRequest,
  events: readonly VelocityEvent[],
): RuleDecision | null {
  for (const rule of allows) {
    for (const limit of rule.velocity) {
      const totals = windowTotals(
        events,
        request.nowMs,
        limit.windowMs,
        context.asset,
        request.sessionId ?? null,
      );
      const problem = velocityLimitExceeded(limit, totals, context);
      if (problem !== null) {
        return deny('velocity', `velocity limit of rule '${rule.id}': ${problem}`, rule.id);
      }
    }
  }
  return null;
}

/**
 * The strictest combination of the matching allows: the largest minSigners (never below the
 * threshold), the union of required types and shares, and every approval group (identical
 * groups merged).
 */
function combineRequirements(
  tier: Tier,
  allows: readonly Rule[],
  ruleSet: RuleSet,
): QuorumRequirement {
  const minSigners = Math.max(tier.threshold, ...allows.map((r) => r.quorum.minSigners ?? 0));
  const types = new Set<ShareType>(allows.flatMap((r) => r.quorum.requireTypes));
  const shares = new Set(allows.flatMap((r) => r.quorum.requireShares));
  const groups = new Map<
    string,
    { ruleIds: string[]; k: number; approverIds: readonly string[] }
  >();
  for (const rule of allows) {
    if (rule.approvals === null) continue;
    const approverIds = rule.approvals.approvers;
    const key = `${rule.approvals.k}:${[...approverIds].sort().join(',')}`;
    const group = groups.get(key);
    if (group === undefined)
      groups.set(key, { ruleIds: [rule.id], k: rule.approvals.k, approverIds });
    else group.ruleIds.push(rule.id);
  }
  const approvals: ApprovalGroup[] = [...groups.values()].map((g) => ({
    ruleIds: g.ruleIds,
    k: g.k,
    approvers: g.approverIds.map((id) => {
      const approver = ruleSet.approvers.get(id);
      assert(approver !== undefined, `validated approver '${id}' exists`);
      return approver;
    }),
  }));
  return {
    minSigners,
    requiredTypes: shareTypes.filter((t) => types.has(t)),
    requiredShares: tier.shares.filter((s) => shares.has(s)),
    approvals,
  };
}
