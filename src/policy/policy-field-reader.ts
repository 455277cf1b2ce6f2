/**
 * Small readers for untrusted parsed YAML/JSON. Each one checks one field and, on failure, throws
 * `QUORATE_E_POLICY_INVALID` with `detail.path` (e.g. `policies[0].shares[2]`) and `detail.problem`.
 */
import { QuorateError } from '../core/errors.ts';
import { policyLimits } from '../core/limits.ts';

/** A parsed mapping whose keys have been checked. */
export type RawObject = Readonly<Record<string, unknown>>;

/** The invalid-policy error, with the path and the problem in its detail. */
export function policyInvalid(path: string, problem: string): QuorateError {
  return new QuorateError('QUORATE_E_POLICY_INVALID', `${path}: ${problem}`, { path, problem });
}

/** Joins a path and a key: `policies[0]` + `shares` → `policies[0].shares`. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** Checks that `value` is a mapping whose keys are all in `allowedKeys` (`ignoredKeys` pass). */
export function readObject(
  value: unknown,
  path: string,
  allowedKeys: readonly string[],
  ignoredKeys: readonly string[] = [],
): RawObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw policyInvalid(path || '(root)', 'must be a mapping');
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!allowedKeys.includes(key) && !ignoredKeys.includes(key)) {
      throw policyInvalid(childPath(path, key), `unknown key '${key}'`);
    }
  }
  return record;
}

/** Reads an optional list, bounded by `maxLength`. */
export function readList(
  value: unknown,
  path: string,
  maxLength: number,
): readonly unknown[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw policyInvalid(path, 'must be a list');
  if (value.length > maxLength) throw policyInvalid(path, `has more than ${maxLength} entries`);
  return value as readonly unknown[];
}

/** Numeric range; bounds are inclusive unless the `…Exclusive` flag is set. */
export interface NumberRange {
  min: number;
  max: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  integer?: boolean;
}

function describeRange(range: NumberRange): string {
  const open = range.minExclusive === true ? '(' : '[';
  const close = range.maxExclusive === true ? ')' : ']';
  const kind = range.integer === true ? 'an integer' : 'a number';
  return `${kind} in ${open}${range.min}, ${range.max}${close}`;
}

/** Reads an optional number within `range`. */
export function readNumber(value: unknown, path: string, range: NumberRange): number | undefined {
  if (value === undefined) return undefined;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (range.integer !== true || Number.isInteger(value)) &&
    (range.minExclusive === true ? value > range.min : value >= range.min) &&
    (range.maxExclusive === true ? value < range.max : value <= range.max);
  if (!ok) throw policyInvalid(path, `must be ${describeRange(range)}, got ${show(value)}`);
  return value;
}

/** Reads a required number within `range`. */
export function requireNumber(value: unknown, path: string, range: NumberRange): number {
  const read = readNumber(value, path, range);
  if (read === undefined) throw policyInvalid(path, 'is required');
  return read;
}

/** Reads an optional boolean. */
export function readBoolean(value: unknown, path: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean')
    throw policyInvalid(path, `must be true or false, got ${show(value)}`);
  return value;
}

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Reads a required identifier: letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export function requireId(value: unknown, path: string): string {
  if (value === undefined) throw policyInvalid(path, 'is required');
  if (
    typeof value !== 'string' ||
    value.length > policyLimits.idLengthMax ||
    !idPattern.test(value)
  ) {
    throw policyInvalid(
      path,
      `must be an id (letters, digits, '.', '_', '-', at most ${policyLimits.idLengthMax} characters), got ${show(value)}`,
    );
  }
  return value;
}

/** Reads a required string that must be one of `choices`. */
export function requireChoice<T extends string>(
  value: unknown,
  path: string,
  choices: readonly T[],
): T {
  if (value === undefined) throw policyInvalid(path, 'is required');
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw policyInvalid(path, `must be one of ${choices.join('|')}, got ${show(value)}`);
  }
  return value as T;
}

/** Short rendering of an offending value for messages. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
