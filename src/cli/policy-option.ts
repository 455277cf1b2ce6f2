/**
 * `--policy FILE` (or QUORATE_POLICY) for the coordinator and party commands: the policy file
 * with its signing-time rules. Its own module because the rules engine (CEL) is heavy to load.
 */
import { loadPolicyWithRules, type LoadedPolicy } from '../policy/rules/index.ts';
import { limits } from '../core/limits.ts';
import { opt, readBoundedFile } from './command-options.ts';

/** Loads `--policy FILE` (or QUORATE_POLICY), bounded by `limits.policyFileBytesMax`. */
export async function loadPolicyOption(
  values: Record<string, unknown>,
): Promise<LoadedPolicy | undefined> {
  const path = opt(values, 'policy', 'QUORATE_POLICY');
  if (path === undefined) return undefined;
  return loadPolicyWithRules(await readBoundedFile(path, limits.policyFileBytesMax, 'policy'));
}
