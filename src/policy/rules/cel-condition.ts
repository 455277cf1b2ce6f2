/**
 * CEL conditions (`when:`) of rules, on `@bufbuild/cel`. A condition is parsed, statically checked
 * (every identifier is a context variable, every field of `time`, `velocity`, `present` and `lists`
 * exists, no message literals) and dry-run once against a sample context so type errors such as
 * `amount > "5"` surface when the file is loaded, naming the rule, not at signing time.
 */
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import type { CelInput } from '@bufbuild/cel';
import { conditionCost } from './cel-cost.ts';
import { celVelocityWindows, ruleLimits } from '../../core/limits.ts';

type ParsedCel = ReturnType<typeof parse>;
type CelExpr = ParsedCel['expr'];

/** Fields of the `time` map (UTC; weekday 0 = Sunday … 6 = Saturday). */
export const timeFields = ['ms', 'hourUtc', 'minuteUtc', 'weekdayUtc'] as const;
/** Request fields that may be absent; `present.<field>` says which are there. */
export const optionalRequestFields = [
  'amount',
  'asset',
  'destination',
  'initiator',
  'selector',
] as const;
/** Fields of the `velocity` map: `count1h` … `count30d`, `amount1h` … `amount30d`. */
export const velocityFields: readonly string[] = celVelocityWindows.flatMap((w) => [
  `count${w.name}`,
  `amount${w.name}`,
]);
/** Top-level variables of a condition. */
const contextVariables = [
  'amount',
  'unit',
  'decimals',
  'asset',
  'destination',
  'initiator',
  'selector',
  'decoded',
  'time',
  'velocity',
  'present',
  'lists',
] as const;

/** Identifiers CEL itself defines (type names used in `type(x) == int`). */
const celTypeNames = new Set([
  'int',
  'uint',
  'double',
  'bool',
  'string',
  'bytes',
  'list',
  'map',
  'null_type',
  'type',
  'dyn',
]);

/** The outcome of evaluating a condition: true/false, or why it could not be evaluated. */
export type ConditionResult =
  { readonly ok: true; readonly value: boolean } | { readonly ok: false; readonly problem: string };

/** A compiled condition, ready to evaluate against bindings. */
export interface CompiledCondition {
  readonly source: string;
  /** Worst-case evaluation steps (cel-cost.ts); at most `ruleLimits.conditionCostMax`. */
  readonly cost: number;
  evaluate(bindings: Readonly<Record<string, CelInput>>): ConditionResult;
}

/** Compilation result: the condition, or the problem (without the rule path). */
export type CompileResult =
  | { readonly ok: true; readonly condition: CompiledCondition }
  | { readonly ok: false; readonly problem: string };

const env = celEnv();
/** Evaluation errors that depend only on the expression's shape, never on the values. */
const staticFaultPattern =
  /unbound function|no matching overload|no such overload|unresolved attribute|field not found/;

/**
 * Compiles `source`; `lists` are the file's `lists` (name → entries), `sample` a full context
 * used for the dry run. A condition whose worst-case cost exceeds `ruleLimits.conditionCostMax`
 * is refused.
 */
export function compileCondition(
  source: string,
  lists: ReadonlyMap<string, readonly string[]>,
  sample: Readonly<Record<string, CelInput>>,
): CompileResult {
  const listNames = new Set(lists.keys());
  let parsed: ParsedCel;
  try {
    parsed = parse(source);
  } catch (error) {
    const where = firstLine(error).replace(/^<input>:(\d+):(\d+):\s*/, 'line $1, column $2: ');
    return { ok: false, problem: `CEL syntax error at ${where}` };
  }
  const fault = checkExpr(parsed.expr, new Set(), listNames);
  if (fault !== null) return { ok: false, problem: fault };
  const listSizes = new Map([...lists].map(([name, entries]) => [name, entries.length]));
  const cost = conditionCost(parsed.expr, { listSizes });
  if (cost > ruleLimits.conditionCostMax) {
    return {
      ok: false,
      problem:
        `costs up to ${cost} evaluation steps (limit ${ruleLimits.conditionCostMax}): ` +
        'avoid a comprehension inside another over large lists; `x in lists.NAME` is cheapest',
    };
  }
  let program: ReturnType<typeof plan>;
  try {
    program = plan(env, parsed);
  } catch (error) {
    return { ok: false, problem: `CEL error: ${firstLine(error)}` };
  }
  const condition: CompiledCondition = {
    source,
    cost,
    evaluate: (bindings) => runProgram(program, bindings),
  };
  const trial = condition.evaluate(sample);
  if (!trial.ok && trial.problem.startsWith('must')) {
    return { ok: false, problem: `condition ${trial.problem}` };
  }
  if (!trial.ok && staticFaultPattern.test(trial.problem)) {
    return { ok: false, problem: `CEL error: ${trial.problem}` };
  }
  return { ok: true, condition };
}

function runProgram(
  program: ReturnType<typeof plan>,
  bindings: Readonly<Record<string, CelInput>>,
): ConditionResult {
  let value: unknown;
  try {
    value = program(bindings);
  } catch (error) {
    return { ok: false, problem: firstLine(error) };
  }
  if (isCelError(value)) return { ok: false, problem: firstLine(value) };
  if (typeof value !== 'boolean') {
    return { ok: false, problem: `must evaluate to a bool, got ${describeValue(value)}` };
  }
  return { ok: true, value };
}

/** Walks the AST; returns the first fault or null. `bound` holds comprehension variables. */
function checkExpr(
  expr: CelExpr | undefined,
  bound: ReadonlySet<string>,
  listNames: ReadonlySet<string>,
): string | null {
  if (expr === undefined) return null;
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'identExpr':
      return checkIdent(kind.value.name, bound);
    case 'selectExpr': {
      const operand = kind.value.operand;
      if (operand?.exprKind.case === 'identExpr' && !bound.has(operand.exprKind.value.name)) {
        const fault = checkField(operand.exprKind.value.name, kind.value.field, listNames);
        if (fault !== null) return fault;
      }
      return checkExpr(operand, bound, listNames);
    }
    case 'callExpr':
      return checkAll([kind.value.target, ...kind.value.args], bound, listNames);
    case 'listExpr':
      return checkAll(kind.value.elements, bound, listNames);
    case 'structExpr':
      if (kind.value.messageName !== '') {
        return `message literal ${kind.value.messageName}{…} is not allowed in a condition`;
      }
      return checkAll(
        kind.value.entries.flatMap((e) => [
          e.keyKind.case === 'mapKey' ? e.keyKind.value : undefined,
          e.value,
        ]),
        bound,
        listNames,
      );
    case 'comprehensionExpr': {
      const c = kind.value;
      const inner = new Set([...bound, c.iterVar, c.iterVar2, c.accuVar].filter((v) => v !== ''));
      return (
        checkAll([c.iterRange, c.accuInit], bound, listNames) ??
        checkAll([c.loopCondition, c.loopStep, c.result], inner, listNames)
      );
    }
    default:
      return null;
  }
}

function checkAll(
  exprs: readonly (CelExpr | undefined)[],
  bound: ReadonlySet<string>,
  listNames: ReadonlySet<string>,
): string | null {
  for (const e of exprs) {
    const fault = checkExpr(e, bound, listNames);
    if (fault !== null) return fault;
  }
  return null;
}

function checkIdent(name: string, bound: ReadonlySet<string>): string | null {
  if (bound.has(name) || celTypeNames.has(name)) return null;
  if ((contextVariables as readonly string[]).includes(name)) return null;
  return `unknown variable '${name}' (known: ${contextVariables.join(', ')})`;
}

function checkField(
  variable: string,
  field: string,
  listNames: ReadonlySet<string>,
): string | null {
  const known: Partial<Record<string, readonly string[]>> = {
    time: timeFields,
    velocity: velocityFields,
    present: optionalRequestFields,
    lists: [...listNames].sort(),
  };
  const fields = known[variable];
  if (fields === undefined || fields.includes(field)) return null;
  const what = variable === 'lists' ? 'list' : `field of ${variable}`;
  const names = fields.length === 0 ? 'none declared' : fields.join(', ');
  return `unknown ${what} '${field}' in '${variable}.${field}' (known: ${names})`;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}

function describeValue(value: unknown): string {
  if (typeof value === 'bigint') return 'an int';
  if (typeof value === 'number') return 'a double';
  if (typeof value === 'string') return 'a string';
  if (value === null) return 'null';
  return 'a non-bool value';
}
