/**
 * The CEL evaluation context of one request. Variables (see docs/policy.md):
 * `amount` (int, minor units of `asset`), `unit` (int, 10^decimals), `decimals` (int), `asset`,
 * `destination`, `initiator`, `selector` (strings), `decoded` (bool: the facts were decoded from
 * the message, not claimed), `time` (map: ms, hourUtc, minuteUtc, weekdayUtc),
 * `velocity` (map: count1h … count30d, amount1h … amount30d, excluding this request), `present`
 * (map of bools: which optional request fields were given) and `lists` (the file's named lists).
 * Absent request fields are unbound: a condition that reads one cannot be evaluated, which denies.
 */
import type { CelInput } from '@bufbuild/cel';
import { celVelocityWindows, limits } from '../../core/limits.ts';
import { optionalRequestFields } from './cel-condition.ts';
import { parseAmountMinor } from './decimal-amount.ts';
import type { AssetSpec, RuleSet } from './rule-schema.ts';
import type { VelocityEvent } from './velocity.ts';
import { windowTotals } from './velocity.ts';

/** The request fields rules read; all optional, as in the HTTP API's `context`. */
export interface RuleRequestContext {
  /** Non-negative decimal string in units of `asset`, e.g. "1250.5". */
  readonly amount?: string;
  readonly asset?: string;
  readonly destination?: string;
  /** Who asked for the signature (the API caller's identity). */
  readonly initiator?: string;
  /**
   * The 4-byte function selector of an EVM transaction's call data (`0x` and 8 hex), decoded
   * from the transaction by the coordinator and by every party; no client declares it.
   */
  readonly selector?: string;
}

/** A request to evaluate: its context, the evaluation time and (for a re-check) its session. */
export interface RuleRequest {
  readonly context: RuleRequestContext;
  /** Evaluation time, epoch ms (from the caller's Env clock). */
  readonly nowMs: number;
  /** The session being (re-)checked: its own counted event is excluded from the counters. */
  readonly sessionId?: string;
  /**
   * True when the evaluator decoded the context's facts from the message itself (an EVM
   * transaction, decoded by the coordinator and by every party on its own), false when the
   * context is what the request claims. The rules read it as `decoded`.
   */
  readonly decoded?: boolean;
}

/** Bindings plus what the velocity limits need. */
export interface RuleContext {
  readonly bindings: Readonly<Record<string, CelInput>>;
  readonly asset: AssetSpec | null;
  readonly amountMinor: bigint | null;
}

/** The context, or why the request itself is invalid. */
export type RuleContextResult =
  | { readonly ok: true; readonly context: RuleContext }
  | { readonly ok: false; readonly problem: string };

const minuteMs = 60_000;
const dayMs = 86_400_000;
/** 1970-01-01 was a Thursday (weekday 4 with Sunday = 0). */
const epochWeekday = 4;

/** UTC calendar fields of an epoch-ms instant, by arithmetic (no Date, no time zone). */
export function timeFieldsOf(nowMs: number): ReadonlyMap<string, bigint> {
  const minutes = Math.floor(nowMs / minuteMs);
  const days = Math.floor(nowMs / dayMs);
  return new Map([
    ['ms', BigInt(nowMs)],
    ['hourUtc', BigInt(Math.floor(minutes / 60) % 24)],
    ['minuteUtc', BigInt(minutes % 60)],
    ['weekdayUtc', BigInt((days + epochWeekday) % 7)],
  ]);
}

/** Builds the CEL context of `request` against `ruleSet`, counting `events`. */
export function buildRuleContext(
  ruleSet: RuleSet,
  request: RuleRequest,
  events: readonly VelocityEvent[],
): RuleContextResult {
  const problem = contextProblem(request);
  if (problem !== null) return { ok: false, problem };
  const { context, nowMs } = request;
  const asset = context.asset === undefined ? null : (ruleSet.assets.get(context.asset) ?? null);
  let amountMinor: bigint | null = null;
  if (context.amount !== undefined) {
    if (context.asset === undefined) return { ok: false, problem: 'amount given without asset' };
    if (asset === null) {
      return { ok: false, problem: `asset '${context.asset}' is not declared in rules.assets` };
    }
    const parsed = parseAmountMinor(context.amount, asset.decimals);
    if (!parsed.ok) return { ok: false, problem: parsed.problem };
    amountMinor = parsed.minor;
  }
  const bindings: Record<string, CelInput> = {
    decoded: request.decoded === true,
    time: timeFieldsOf(nowMs),
    velocity: velocityMap(events, nowMs, asset, request.sessionId ?? null),
    present: new Map(optionalRequestFields.map((f) => [f, context[f] !== undefined])),
    lists: ruleSet.lists,
  };
  if (amountMinor !== null) bindings['amount'] = amountMinor;
  if (asset !== null) {
    bindings['unit'] = 10n ** BigInt(asset.decimals);
    bindings['decimals'] = BigInt(asset.decimals);
  }
  for (const field of ['asset', 'destination', 'initiator', 'selector'] as const) {
    const value = context[field];
    if (value !== undefined) bindings[field] = value;
  }
  return { ok: true, context: { bindings, asset, amountMinor } };
}

function contextProblem(request: RuleRequest): string | null {
  if (!Number.isSafeInteger(request.nowMs) || request.nowMs < 0) {
    return `nowMs must be a non-negative safe integer, got ${request.nowMs}`;
  }
  for (const field of optionalRequestFields) {
    const value: unknown = request.context[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') return `context.${field} must be a string`;
    if (value.length > limits.contextFieldLengthMax) {
      return `context.${field} is longer than ${limits.contextFieldLengthMax} characters`;
    }
  }
  return null;
}

/** `velocity` map: counts always; amounts only when the request has a declared asset. */
function velocityMap(
  events: readonly VelocityEvent[],
  nowMs: number,
  asset: AssetSpec | null,
  excludeSessionId: string | null,
): Map<string, bigint> {
  const counters = new Map<string, bigint>();
  for (const { name, windowMs } of celVelocityWindows) {
    const totals = windowTotals(events, nowMs, windowMs, asset, excludeSessionId);
    counters.set(`count${name}`, BigInt(totals.count));
    if (totals.amountMinor !== null) counters.set(`amount${name}`, totals.amountMinor);
  }
  return counters;
}

/** A full context with every variable bound, for dry-running conditions at load time. */
export function sampleBindings(
  lists: ReadonlyMap<string, readonly string[]>,
): Readonly<Record<string, CelInput>> {
  const velocity = new Map<string, bigint>();
  for (const { name } of celVelocityWindows) {
    velocity.set(`count${name}`, 0n);
    velocity.set(`amount${name}`, 0n);
  }
  return {
    amount: 1n,
    unit: 1n,
    decimals: 0n,
    asset: 'asset',
    destination: 'destination',
    initiator: 'initiator',
    selector: '0x00000000',
    decoded: true,
    time: timeFieldsOf(0),
    velocity,
    present: new Map(optionalRequestFields.map((f) => [f, true])),
    lists: lists,
  };
}
