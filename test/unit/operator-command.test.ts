/**
 * The operator's commands and the party's trust flags (issue 12 deliverable 3, command line):
 * `quorate operator init` makes a key file (0600, never overwritten, sealed when a passphrase
 * is set), `quorate party identity` prints the request, `quorate operator certify` signs it, and
 * the certificate verifies under the operator key. A party started with a certificate that is
 * not its own, or a malformed coordinator key, stops with QUORATE_E_CONFIG. The party commands
 * run as real processes (bin/quorate.js: `npm run build` first).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hexToBytes } from '@noble/hashes/utils.js';
import { quoratePartyEntry } from '../../src/cli/local-cluster.ts';
import { runOperatorCommand } from '../../src/cli/operator-command.ts';
import { realEnv } from '../../src/core/env.ts';
import { QuorateError } from '../../src/core/errors.ts';
import { certificateProblem, parseCertificate } from '../../src/transport/certificate.ts';

const env = realEnv({ logLevel: 'silent' });
const root = mkdtempSync(join(tmpdir(), 'quorate-operator-'));
after(() => rmSync(root, { recursive: true, force: true }));
const passphrase = 'party passphrase for the operator test';

/** `quorate ARGS` as a real process (bounded), with the party passphrase set. */
function quorate(args: string[], extraEnv: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [quoratePartyEntry[0] ?? '', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      ...process.env,
      QUORATE_KEY_PASSPHRASE: passphrase,
      QUORATE_LOG_LEVEL: 'warn',
      ...extraEnv,
    },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `quorate party --id ID` dialling nowhere, with data in ROOT/DIR and more flags. */
const party = (id: string, dir: string, ...flags: string[]) =>
  quorate([
    'party',
    '--id',
    id,
    '--coordinator',
    'ws://127.0.0.1:9',
    '--data',
    join(root, dir),
    ...flags,
  ]);

/** Runs `quorate operator ARGS` in-process; its JSON output line. */
async function operator(args: string[]): Promise<Record<string, unknown>> {
  const lines: string[] = [];
  const code = await runOperatorCommand(args, { out: (line) => lines.push(line) }, env);
  assert.equal(code, 0);
  assert.equal(lines.length, 1);
  return JSON.parse(lines[0] ?? '') as Record<string, unknown>;
}

const isConfig = (error: unknown) =>
  error instanceof QuorateError && error.code === 'QUORATE_E_CONFIG';

describe('operator init, party identity, operator certify', () => {
  const keyFile = join(root, 'operator.json');
  let operatorKey = '';
  before(() => {
    process.env['QUORATE_KEY_PASSPHRASE'] = 'operator passphrase, long enough';
  });
  after(() => {
    delete process.env['QUORATE_KEY_PASSPHRASE'];
  });

  test('init refuses to write the operator key without a passphrase to seal it', async () => {
    delete process.env['QUORATE_KEY_PASSPHRASE'];
    try {
      await assert.rejects(
        runOperatorCommand(['init', '--out', join(root, 'plain.json')], { out: () => {} }, env),
        isConfig,
      );
      assert.equal(existsSync(join(root, 'plain.json')), false);
    } finally {
      process.env['QUORATE_KEY_PASSPHRASE'] = 'operator passphrase, long enough';
    }
  });

  test('init writes a 0600 key file, prints the public key, and never overwrites', async () => {
    const printed = await operator(['init', '--out', keyFile]);
    operatorKey = String(printed['operatorKey']);
    assert.match(operatorKey, /^[0-9a-f]{64}$/);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const before = readFileSync(keyFile, 'utf8');
    await assert.rejects(
      runOperatorCommand(['init', '--out', keyFile], { out: () => {} }, env),
      isConfig,
    );
    assert.equal(readFileSync(keyFile, 'utf8'), before);
  });

  test('party identity prints the same request twice; certify signs it for that party', async () => {
    const data = join(root, 'p1');
    const first = quorate(['party', 'identity', '--id', 'p1', '--data', data]);
    assert.equal(first.status, 0, first.stderr);
    const again = quorate(['party', 'identity', '--id', 'p1', '--data', data]);
    assert.equal(again.stdout, first.stdout);
    const request = JSON.parse(first.stdout) as Record<string, string>;
    assert.deepEqual(Object.keys(request).sort(), ['boxKey', 'identityKey', 'partyId']);
    assert.equal(statSync(data).mode & 0o777, 0o700);
    const requestFile = join(root, 'p1.request.json');
    writeFileSync(requestFile, first.stdout);
    const certFile = join(root, 'p1.cert.json');
    await operator(['certify', '--key', keyFile, '--request', requestFile, '--out', certFile]);
    const cert = parseCertificate(JSON.parse(readFileSync(certFile, 'utf8')));
    if (typeof cert === 'string') assert.fail(cert);
    assert.equal(
      certificateProblem(cert, hexToBytes(operatorKey), {
        partyId: 'p1',
        identityKey: request['identityKey'] ?? '',
        boxKey: request['boxKey'] ?? '',
      }),
      undefined,
    );
    // p2 presenting p1's certificate is refused at start, before it dials anyone.
    const wrong = party('p2', 'p2', '--operator-key', operatorKey, '--certificate', certFile);
    assert.equal(wrong.status, 1, wrong.stderr);
    assert.match(
      wrong.stderr,
      /QUORATE_E_CONFIG: --certificate: certificate names p1, expected p2/,
    );
    const half = party('p1', 'p1', '--certificate', certFile);
    assert.equal(half.status, 1, half.stderr);
    assert.match(half.stderr, /QUORATE_E_CONFIG: --operator-key and --certificate go together/);
  });

  test('a sealed key file needs its passphrase to certify', async () => {
    const sealedFile = join(root, 'sealed-operator.json');
    const requestFile = join(root, 'p1.request.json');
    process.env['QUORATE_KEY_PASSPHRASE'] = 'operator passphrase, long enough';
    try {
      await operator(['init', '--out', sealedFile]);
      assert.doesNotMatch(readFileSync(sealedFile, 'utf8'), /"seed"/);
      const certify = (out: string) => [
        'certify',
        '--key',
        sealedFile,
        '--request',
        requestFile,
        '--out',
        join(root, out),
      ];
      await operator(certify('c2.json'));
      process.env['QUORATE_KEY_PASSPHRASE'] = 'a different passphrase, also long';
      await assert.rejects(
        runOperatorCommand(certify('c3.json'), { out: () => {} }, env),
        (error) => error instanceof QuorateError && error.code === 'QUORATE_E_KEYSTORE',
      );
    } finally {
      process.env['QUORATE_KEY_PASSPHRASE'] = 'operator passphrase, long enough';
    }
  });

  test('a coordinator key that is not 64 hex stops the party', () => {
    const bad = party('p3', 'p3', '--coordinator-key', 'abc');
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /QUORATE_E_CONFIG: --coordinator-key must be 64 hex/);
  });
});
