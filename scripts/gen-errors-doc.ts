// Regenerates the table in docs/errors.md from src/core/errors.ts (`npm run docs:errors`).
// test/unit/errors.test.ts fails when the two disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { errorTable } from '../src/core/errors.ts';

const path = new URL('../docs/errors.md', import.meta.url);
const intro = readFileSync(path, 'utf8').split('| code')[0] ?? '';
const rows = Object.entries(errorTable).map(
  ([code, spec]) =>
    `| \`${code}\` | ${spec.status} | ${spec.retryable ? 'yes' : 'no'} | ${spec.summary} |`,
);
writeFileSync(
  path,
  `${intro}| code | HTTP | retryable | meaning |\n|---|---|---|---|\n${rows.join('\n')}\n`,
);
