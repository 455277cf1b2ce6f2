/**
 * Policy text → the validated model, the validated rules and the policy hash, in one pass. This is
 * what the coordinator and every party load; the hash is what they pin. No I/O: the caller reads
 * the file.
 */
import { parsePolicyDocument } from '../parse-policy-text.ts';
import type { PolicyFile } from '../policy-schema.ts';
import { validatePolicyFile } from '../validate-policy-file.ts';
import { policyHash } from './policy-hash.ts';
import type { RuleSet } from './rule-schema.ts';
import { validateRuleSection } from './validate-rules.ts';

/** A loaded policy: the lab's model, the signing-time rules and the pinning hash. */
export interface LoadedPolicy {
  readonly file: PolicyFile;
  readonly rules: RuleSet;
  /** {@link policyHash} of the document. */
  readonly policyHash: string;
}

/** Parses and validates a policy file's text (YAML or JSON), rules included. */
export function loadPolicyWithRules(text: string): LoadedPolicy {
  return loadPolicyDocumentWithRules(parsePolicyDocument(text));
}

/** Validates an already parsed policy document, rules included. */
export function loadPolicyDocumentWithRules(document: unknown): LoadedPolicy {
  const file = validatePolicyFile(document);
  const raw = (document as Record<string, unknown>)['rules'];
  const rules = validateRuleSection(raw, file);
  return { file, rules, policyHash: policyHash(document as Record<string, unknown>) };
}
