/**
 * Weak-secret checks for secrets a person may type: the shared party secret (a captured hello
 * carries a MAC under it, so it must resist an offline guess). Not an
 * entropy meter: it refuses what is plainly guessable (short, few distinct characters, a
 * repeated pattern, a keyboard or alphabet walk) and leaves generated secrets alone
 * (`openssl rand -hex 24`).
 */

/** What a secret must meet. */
export interface SecretRules {
  lengthMin: number;
  distinctCharsMin: number;
}

// Runs a walk follows, forwards or backwards (keyboard rows, the alphabet, the digits).
const walks = ['abcdefghijklmnopqrstuvwxyz', '0123456789', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm'];

/** True if the secret is a shorter pattern repeated (`abcabcab…`, `Password1Password1…`). */
function isPeriodic(secret: string): boolean {
  for (let period = 1; period <= secret.length / 2; period += 1) {
    let repeats = true;
    for (let i = period; i < secret.length && repeats; i += 1)
      repeats = secret[i] === secret[i - period];
    if (repeats) return true;
  }
  return false;
}

/** Share of adjacent character pairs that step along a walk (0..1). */
function walkShare(secret: string): number {
  const lower = secret.toLowerCase();
  let steps = 0;
  for (let i = 1; i < lower.length; i += 1) {
    const pair = `${lower[i - 1] ?? ''}${lower[i] ?? ''}`;
    const reversed = `${lower[i] ?? ''}${lower[i - 1] ?? ''}`;
    if (walks.some((w) => w.includes(pair) || w.includes(reversed))) steps += 1;
  }
  return lower.length < 2 ? 0 : steps / (lower.length - 1);
}

/** Why `secret` is too weak under `rules`, or undefined; never repeats the secret. */
export function secretWeakness(secret: string, rules: SecretRules): string | undefined {
  if (secret.length < rules.lengthMin)
    return `must be at least ${rules.lengthMin} characters (got ${secret.length})`;
  if (new Set(secret).size < rules.distinctCharsMin)
    return `must use at least ${rules.distinctCharsMin} distinct characters`;
  if (isPeriodic(secret)) return 'repeats a shorter pattern';
  if (walkShare(secret) >= 0.75) return 'is mostly a keyboard or alphabet walk';
  return undefined;
}
