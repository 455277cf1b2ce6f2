/**
 * Decimal amount strings → integer minor units (bigint), exactly. Amounts never pass through a
 * double: "0.1" + "0.2" must be "0.3", and 2^53 minor units is only 9 007 ETH in gwei.
 */
import { int64Max } from '../../core/limits.ts';

const decimalPattern = /^(\d+)(?:\.(\d+))?$/;
/** Longest decimal string read: 19 integer digits + point + 18 decimals, with slack. */
const amountCharsMax = 64;

/** The parse result: minor units, or the problem in words. */
export type MinorUnits =
  { readonly ok: true; readonly minor: bigint } | { readonly ok: false; readonly problem: string };

/**
 * Parses a non-negative decimal string (`"1234.5"`, no sign, no exponent) into minor units of an
 * asset with `decimals` decimals. Exact: more fractional digits than `decimals` (other than
 * trailing zeros) or a value above int64 is a problem, never rounded.
 */
export function parseAmountMinor(text: string, decimals: number): MinorUnits {
  const match = text.length <= amountCharsMax ? decimalPattern.exec(text) : null;
  if (match === null) {
    return { ok: false, problem: `amount ${JSON.stringify(text)} is not a decimal string` };
  }
  const whole = match[1] ?? '0';
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > decimals) {
    return {
      ok: false,
      problem: `amount ${text} has more than ${decimals} decimals for this asset`,
    };
  }
  const minor = BigInt(whole + fraction.padEnd(decimals, '0'));
  if (minor > int64Max) {
    return { ok: false, problem: `amount ${text} exceeds the int64 range in minor units` };
  }
  return { ok: true, minor };
}

/** True if `text` is a non-negative decimal string {@link parseAmountMinor} can read. */
export function isDecimalString(text: string): boolean {
  return text.length <= amountCharsMax && decimalPattern.test(text);
}

/**
 * Like {@link parseAmountMinor} but never fails: extra decimals are rounded in `direction` and the
 * result saturates at int64; text that is not a decimal reads as int64 max. Used where one side is
 * safe: counted events round up (over-count), limits round down (stricter).
 */
export function amountMinorRounded(
  text: string,
  decimals: number,
  direction: 'up' | 'down',
): bigint {
  const match = isDecimalString(text) ? decimalPattern.exec(text) : null;
  if (match === null) return int64Max;
  const whole = match[1] ?? '0';
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  const kept = BigInt(whole + fraction.slice(0, decimals).padEnd(decimals, '0'));
  const rounded = direction === 'up' && fraction.length > decimals ? kept + 1n : kept;
  return rounded > int64Max ? int64Max : rounded;
}

/** Formats minor units back as a decimal string with trailing zeros removed. */
export function formatMinor(minor: bigint, decimals: number): string {
  const digits = minor.toString().padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '');
  return fraction === '' ? whole : `${whole}.${fraction}`;
}
