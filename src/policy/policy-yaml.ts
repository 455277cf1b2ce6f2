/** Serialises a policy document (plain data) as YAML that `parsePolicyText` reads back. */
import { stringify } from 'yaml';

/** YAML text with a leading comment line. */
export function stringifyPolicyDocument(
  document: Record<string, unknown>,
  comment: string,
): string {
  const body = stringify(document, { lineWidth: 100 });
  return `${comment
    .split('\n')
    .map((line) => `# ${line}`)
    .join('\n')}\n${body}`;
}
