/**
 * Text → validated policy file. The text is YAML 1.2 (JSON is a subset of it), read with the
 * `yaml` package; the caller (the CLI) reads the file, so this module does no I/O.
 */
import { parseDocument } from 'yaml';
import { policyInvalid } from './policy-field-reader.ts';
import { policyLimits } from '../core/limits.ts';
import type { PolicyFile } from './policy-schema.ts';
import { validatePolicyFile } from './validate-policy-file.ts';

/** Parses YAML/JSON text into plain data, raising `QUORATE_E_POLICY_INVALID` on syntax errors. */
export function parsePolicyDocument(text: string): unknown {
  if (text.length > policyLimits.policyTextCharsMax) {
    throw policyInvalid('(file)', `is larger than ${policyLimits.policyTextCharsMax} characters`);
  }
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const first = document.errors[0];
  if (first !== undefined) {
    const where = first.linePos?.[0];
    const path = where === undefined ? '(file)' : `line ${where.line}, column ${where.col}`;
    const problem = (first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw policyInvalid(path, problem || 'YAML syntax error');
  }
  return document.toJS({ maxAliasCount: 100 }) as unknown;
}

/** Parses and validates a policy file's text. */
export function parsePolicyText(text: string): PolicyFile {
  return validatePolicyFile(parsePolicyDocument(text));
}
