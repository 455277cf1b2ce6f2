import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { errorTable, QuorateError } from '../../src/core/errors.ts';

test('docs/errors.md lists exactly the codes of src/core/errors.ts, with status and retryable', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = [
    ...doc.matchAll(/^\|\s*`(QUORATE_E_[A-Z_]+)`\s*\|\s*(\d{3})\s*\|\s*(yes|no)\s*\|/gm),
  ].map((m) => ({
    code: m[1],
    status: Number(m[2]),
    retryable: m[3] === 'yes',
  }));
  const fromCode = Object.entries(errorTable).map(([code, spec]) => ({
    code,
    status: spec.status,
    retryable: spec.retryable,
  }));
  assert.deepEqual(
    rows.sort((a, b) => String(a.code).localeCompare(String(b.code))),
    fromCode.sort((a, b) => a.code.localeCompare(b.code)),
  );
});

test('QuorateError carries the table status, retryable flag and detail', () => {
  const e = new QuorateError('QUORATE_E_QUORUM_UNAVAILABLE', 'down', { down: ['a'] });
  assert.equal(e.status, 503);
  assert.equal(e.retryable, true);
  assert.deepEqual(e.toBody(), {
    error: {
      code: 'QUORATE_E_QUORUM_UNAVAILABLE',
      message: 'down',
      retryable: true,
      detail: { down: ['a'] },
    },
  });
});
