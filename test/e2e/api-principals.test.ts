/**
 * Named API principals on real processes: `--api-tokens FILE` (digests only, lines made by
 * `quorate api-token new`), the authenticated name becomes the request's `initiator`, and a
 * signing-time rule on `initiator` is enforced by the coordinator and the parties. A client
 * cannot claim an initiator; a bad tokens file stops the coordinator with QUORATE_E_CONFIG.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { LocalCluster } from '../../src/cli/local-cluster.ts';

const bin = fileURLToPath(new URL('../../bin/quorate.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'quorate-principals-'));
const parties = ['desk-a', 'desk-b', 'desk-c'];
const policyPath = join(dir, 'policy.yaml');
const tokensPath = join(dir, 'tokens.yaml');
writeFileSync(
  policyPath,
  `slo: 0.999
shares:
  - { id: desk-a, type: backend, domain: operator, availability: 0.999 }
  - { id: desk-b, type: hsm, domain: custodian, availability: 0.999 }
  - { id: desk-c, type: guardian, domain: recovery-co, availability: 0.99 }
policies:
  - { id: desk-2of3, threshold: 2, shares: [desk-a, desk-b, desk-c] }
rules:
  tiers:
    desk-2of3:
      - id: ops-signs
        description: only the ops desk signs for this wallet
        effect: allow
        when: "initiator == 'ops'"
`,
);

/** `quorate api-token new --name NAME --json`, as an operator would run it. */
function newToken(name: string): { name: string; token: string; sha256: string } {
  const run = spawnSync(process.execPath, [bin, 'api-token', 'new', '--name', name, '--json'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim()) as { name: string; token: string; sha256: string };
}

const ops = newToken('ops');
const intern = newToken('intern');
writeFileSync(
  tokensPath,
  `tokens:\n${[ops, intern].map((t) => `  - { name: ${t.name}, sha256: ${t.sha256} }`).join('\n')}\n`,
);

let cluster: LocalCluster;
let walletId: string;

before(async () => {
  cluster = new LocalCluster({
    coordinatorArgs: ['--policy', policyPath, '--api-tokens', tokensPath],
    partyArgs: ['--policy', policyPath],
  });
  await cluster.startWithParties(parties);
  const w = await cluster.request('POST', '/v1/wallets', {
    scheme: 'ed25519',
    threshold: 2,
    parties,
    policy: 'desk-2of3',
  });
  assert.equal(w.status, 201, JSON.stringify(w.json));
  walletId = w.json['walletId'] as string;
});

after(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
const sign = (token: string, context?: Record<string, string>) =>
  cluster.request(
    'POST',
    `/v1/wallets/${walletId}/signatures`,
    {
      message: bytesToHex(utf8ToBytes(`principal ${n}`)),
      intentKey: `p-${n++}`,
      ...(context === undefined ? {} : { context }),
    },
    0,
    token,
  );

test('the tokens file holds digests only, one line per principal', () => {
  assert.match(ops.token, /^[0-9a-f]{64}$/);
  assert.notEqual(ops.sha256, ops.token);
  assert.notEqual(ops.token, intern.token);
});

test('ops signs; the session records initiator "ops", set by the coordinator', async () => {
  const r = await sign(ops.token);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const session = await cluster.request('GET', `/v1/sessions/${r.json['sessionId'] as string}`);
  assert.deepEqual(session.json['context'], { initiator: 'ops' });
});

test('intern and the default token are denied by the rule (no rule allows them)', async () => {
  for (const token of [intern.token, cluster.apiToken]) {
    const r = await sign(token);
    assert.equal(r.status, 403, JSON.stringify(r.json));
    const error = r.json['error'] as { code: string; detail: { sessionId: string } };
    assert.equal(error.code, 'QUORATE_E_POLICY_DENIED');
    const session = await cluster.request('GET', `/v1/sessions/${error.detail.sessionId}`);
    assert.equal(session.json['status'], 'failed');
    assert.equal(session.json['signature'], undefined);
  }
});

test('a client cannot claim an initiator: 400, nothing opened for that intent', async () => {
  const body = { message: bytesToHex(utf8ToBytes('claimed')), intentKey: 'claimed-1' };
  const url = `/v1/wallets/${walletId}/signatures`;
  const r = await cluster.request(
    'POST',
    url,
    { ...body, context: { initiator: 'ops' } },
    0,
    intern.token,
  );
  assert.equal(r.status, 400, JSON.stringify(r.json));
  assert.equal((r.json['error'] as { code: string }).code, 'QUORATE_E_BAD_REQUEST');
  // Had the refused request opened a session (as intern), this would join it and be denied.
  const again = await cluster.request('POST', url, body, 0, ops.token);
  assert.equal(again.status, 200, JSON.stringify(again.json));
});

test('an unknown token is refused with 401', async () => {
  const r = await sign('f'.repeat(64));
  assert.equal(r.status, 401);
  assert.equal((r.json['error'] as { code: string }).code, 'QUORATE_E_UNAUTHORIZED');
});

test('a bad tokens file stops the coordinator with QUORATE_E_CONFIG naming path and problem', () => {
  const cases: [string, RegExp][] = [
    ['tokens: []\n', /tokens: must be a non-empty list/],
    ['tokens:\n  - { name: ops, sha256: abc }\n', /tokens\[0\]\.sha256: must be 64/],
    [`tokens:\n  - { name: Ops!, sha256: ${ops.sha256} }\n`, /tokens\[0\]\.name: must match/],
    [
      `tokens:\n  - { name: a, sha256: ${ops.sha256} }\n  - { name: a, sha256: ${intern.sha256} }\n`,
      /tokens\[1\]\.name: duplicate name a/,
    ],
    [
      `tokens:\n  - { name: a, sha256: ${ops.sha256} }\n  - { name: b, sha256: ${ops.sha256} }\n`,
      /tokens\[1\]\.sha256: the same token is listed twice/,
    ],
    [
      `tokens:\n  - { name: a, sha256: ${ops.sha256}, role: admin }\n`,
      /tokens\[0\]\.role: unknown field/,
    ],
    [`tokenz:\n  - { name: a, sha256: ${ops.sha256} }\n`, /tokenz: unknown field/],
  ];
  for (const [text, expected] of cases) {
    const bad = join(dir, 'bad-tokens.yaml');
    writeFileSync(bad, text);
    const run = spawnSync(
      process.execPath,
      [
        bin,
        'coordinator',
        '--listen',
        '127.0.0.1:0',
        '--data',
        join(dir, 'bad-data'),
        '--api-tokens',
        bad,
      ],
      {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, QUORATE_API_TOKEN: '', QUORATE_KEY_PASSPHRASE: 'x'.repeat(16) },
      },
    );
    assert.equal(run.status, 1, `${text}\n${run.stdout}${run.stderr}`);
    assert.match(run.stderr, /^QUORATE_E_CONFIG: API tokens: /m, text);
    assert.match(run.stderr, expected, text);
  }
});
