/**
 * Static worst-case cost of a CEL condition, in evaluation steps, checked when a policy file is
 * loaded. A condition runs on the signing path of the coordinator and of every party, so its
 * work must be bounded before it ever runs: a comprehension nested in another over two
 * 10 000-entry lists would be 10^8 steps per request (a denial of service written into the
 * policy). One step is one node of the expression tree evaluated once. The estimate ignores
 * short-circuits (`&&`, `||`, `exists` stopping early), so it is an upper bound, and list sizes
 * are the file's real list sizes.
 *
 * Rules: a node costs 1 plus its children; `x in L` adds |L|; `matches` adds the longest request
 * string (RE2 is linear in its input); a comprehension (`all`, `exists`, `exists_one`, `map`,
 * `filter`) costs its range and initial value, plus |range| × (condition + step), plus its
 * result. |range| is exact for `lists.NAME`, literals and the fixed maps (`time`, `velocity`,
 * `present`, `lists`); a range the estimate cannot size counts as the largest list a file may
 * hold (`ruleLimits.listEntriesMax`).
 */
import { limits, ruleLimits } from '../../core/limits.ts';
import type { parse } from '@bufbuild/cel';
import { optionalRequestFields, timeFields, velocityFields } from './cel-condition.ts';

type CelExpr = ReturnType<typeof parse>['expr'];

/** What the estimate knows about the file: the size of each named list. */
export interface CostScope {
  readonly listSizes: ReadonlyMap<string, number>;
}

/** Keys of the fixed context maps (a function: cel-condition.ts imports this module too). */
function fixedMapSize(name: string): number | undefined {
  if (name === 'time') return timeFields.length;
  if (name === 'velocity') return velocityFields.length;
  if (name === 'present') return optionalRequestFields.length;
  return undefined;
}

/** Saturating add/multiply: the estimate never overflows to Infinity or NaN. */
const cap = Number.MAX_SAFE_INTEGER;
const add = (...xs: number[]) =>
  Math.min(
    cap,
    xs.reduce((a, b) => a + b, 0),
  );
const mul = (a: number, b: number) => Math.min(cap, a * b);

/** Worst-case evaluation steps of `expr`. */
export function conditionCost(expr: CelExpr | undefined, scope: CostScope): number {
  if (expr === undefined) return 0;
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'selectExpr':
      return add(1, conditionCost(kind.value.operand, scope));
    case 'callExpr': {
      const call = kind.value;
      const children = [call.target, ...call.args].map((e) => conditionCost(e, scope));
      let extra = 0;
      if (call.function === '@in') extra = rangeSize(call.args[1], scope);
      if (call.function === 'matches') extra = limits.contextFieldLengthMax;
      return add(1, extra, ...children);
    }
    case 'listExpr':
      return add(1, ...kind.value.elements.map((e) => conditionCost(e, scope)));
    case 'structExpr':
      return add(
        1,
        ...kind.value.entries.flatMap((e) => [
          e.keyKind.case === 'mapKey' ? conditionCost(e.keyKind.value, scope) : 0,
          conditionCost(e.value, scope),
        ]),
      );
    case 'comprehensionExpr': {
      const c = kind.value;
      const perStep = add(conditionCost(c.loopCondition, scope), conditionCost(c.loopStep, scope));
      return add(
        conditionCost(c.iterRange, scope),
        conditionCost(c.accuInit, scope),
        mul(rangeSize(c.iterRange, scope), perStep),
        conditionCost(c.result, scope),
      );
    }
    default:
      return 1;
  }
}

/** Upper bound on the number of elements (or map keys) `expr` evaluates to. */
function rangeSize(expr: CelExpr | undefined, scope: CostScope): number {
  if (expr === undefined) return 0;
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'identExpr': {
      const name = kind.value.name;
      if (name === 'lists') return scope.listSizes.size;
      return fixedMapSize(name) ?? ruleLimits.listEntriesMax;
    }
    case 'selectExpr': {
      const operand = kind.value.operand;
      if (operand?.exprKind.case === 'identExpr' && operand.exprKind.value.name === 'lists') {
        return scope.listSizes.get(kind.value.field) ?? ruleLimits.listEntriesMax;
      }
      return ruleLimits.listEntriesMax;
    }
    case 'listExpr':
      return kind.value.elements.length;
    case 'structExpr':
      return kind.value.entries.length;
    case 'comprehensionExpr':
      // map/filter yield at most one element per element of their range.
      return rangeSize(kind.value.iterRange, scope);
    case 'callExpr':
      if (kind.value.function === '_+_') {
        return add(...kind.value.args.map((a) => rangeSize(a, scope)));
      }
      return ruleLimits.listEntriesMax;
    default:
      return ruleLimits.listEntriesMax;
  }
}
