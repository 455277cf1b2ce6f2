/**
 * TLS on real processes (issue 12 deliverable 4): a coordinator serving HTTPS and WSS with a
 * certificate from a test CA made by openssl, three parties dialling wss:// and trusting that
 * CA with --tls-ca, a wallet created and a signature made over HTTPS. A party that trusts
 * another CA refuses the coordinator and says why; plain HTTP and WS to the TLS port fail; a
 * coordinator given half a key pair or a weak party secret does not start.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { WebSocket } from 'ws';
import { LocalCluster, quoratePartyEntry } from '../../src/cli/local-cluster.ts';
import { makeTestPki, type TestPki } from '../helpers/tls-pki.ts';

const parties = ['p1', 'p2', 'p3'];
const requestTimeoutMs = 30_000;
const waitStepMs = 100;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One JSON request over HTTPS that trusts only `ca`. */
function httpsJson(
  url: string,
  ca: string,
  token: string,
  method: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        ca,
        timeout: requestTimeoutMs,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += String(d)));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

describe('coordinator and parties over TLS (real processes)', () => {
  let pki: TestPki;
  let cluster: LocalCluster;
  let ca: string;
  const api = (method: string, path: string, body?: unknown) =>
    httpsJson(`${cluster.url}${path}`, ca, cluster.apiToken, method, body);

  /** Party states as the coordinator reports them, over HTTPS. */
  async function partyStates(): Promise<Record<string, string>> {
    const { json } = await api('GET', '/v1/parties');
    const list = Array.isArray(json['parties'])
      ? (json['parties'] as Record<string, unknown>[])
      : [];
    return Object.fromEntries(list.map((p) => [String(p['partyId']), String(p['state'])]));
  }

  before(async () => {
    pki = makeTestPki();
    ca = readFileSync(pki.caCert, 'utf8');
    cluster = new LocalCluster({
      coordinatorArgs: ['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey],
    });
    await cluster.startCoordinator();
    for (const id of parties)
      cluster.startParty(id, [...quoratePartyEntry, '--tls-ca', pki.caCert]);
    for (let i = 0; i < 300; i++) {
      const states = await partyStates().catch((): Record<string, string> => ({}));
      if (parties.every((id) => states[id] === 'alive')) return;
      await sleep(waitStepMs);
    }
    throw new Error('parties did not connect over wss within 30 s');
  });
  after(async () => {
    await cluster.stop();
    rmSync(pki.dir, { recursive: true, force: true });
  });

  test('the coordinator listens on https; a wallet is created and signs over wss', async () => {
    assert.match(cluster.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const created = await api('POST', '/v1/wallets', {
      scheme: 'ed25519',
      threshold: 2,
      parties,
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const walletId = String(created.json['walletId']);
    const signed = await api('POST', `/v1/wallets/${walletId}/signatures`, {
      message: Buffer.from('over tls').toString('hex'),
      intentKey: 'tls-1',
    });
    assert.equal(signed.status, 200, JSON.stringify(signed.json));
    assert.equal(signed.json['status'], 'signed');
  });

  test('plain http and ws to the TLS port fail', async () => {
    const port = new URL(cluster.url).port;
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = httpRequest(`http://127.0.0.1:${port}/v1/health`, {
          timeout: requestTimeoutMs,
        });
        req.on('response', resolve);
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
      }),
    );
    const wsFailed = await new Promise<boolean>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/parties/connect`, {
        handshakeTimeout: requestTimeoutMs,
      });
      socket.on('open', () => {
        socket.terminate();
        resolve(false);
      });
      socket.on('error', () => resolve(true));
    });
    assert.ok(wsFailed, 'a ws:// upgrade on the TLS port must fail');
  });

  test('over TLS too, a bad URL and a malformed request get the contract error shape', async () => {
    const badUrl = await api('GET', '/%ff');
    assert.equal(badUrl.status, 400);
    assert.equal(
      (badUrl.json['error'] as Record<string, unknown>)['code'],
      'QUORATE_E_BAD_REQUEST',
    );
    // A request line no HTTP parser accepts, over a verified TLS connection.
    const { port } = new URL(cluster.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: Number(port), ca }, () =>
        socket.write('NOT-HTTP \u0000\r\n\r\n'),
      );
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.setTimeout(requestTimeoutMs, () => socket.destroy(new Error('timeout')));
    });
    assert.match(answer, /^HTTP\/1\.1 400/);
    assert.match(answer, /"code":"QUORATE_E_BAD_REQUEST"/);
  });

  test('a party that trusts another CA refuses the coordinator and logs why', async () => {
    const child = spawn(
      process.execPath,
      [
        ...quoratePartyEntry,
        '--id',
        'p9',
        '--coordinator',
        cluster.url.replace(/^https/, 'wss'),
        '--data',
        join(cluster.dataDir, 'parties', 'p9'),
        '--tls-ca',
        pki.otherCaCert,
      ],
      {
        env: {
          ...process.env,
          QUORATE_KEY_PASSPHRASE: cluster.passphrase,
          QUORATE_PARTY_SECRET: cluster.partySecret,
          QUORATE_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    try {
      for (let i = 0; i < 300 && !/cannot connect to coordinator/.test(stderr); i++) {
        stderr += await new Promise<string>((resolve) => {
          const timer = setTimeout(() => resolve(''), waitStepMs);
          child.stderr.once('data', (d: Buffer) => {
            clearTimeout(timer);
            resolve(String(d));
          });
        });
      }
      assert.match(stderr, /cannot connect to coordinator/);
      assert.match(stderr, /certificate/i, stderr);
      const states = await partyStates();
      assert.notEqual(states['p9'], 'alive');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('TLS and secret options refused at start (real processes)', () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => rmSync(pki.dir, { recursive: true, force: true }));

  /** Runs `quorate ARGS` to completion (bounded) and returns its exit code and stderr. */
  function run(args: string[], extraEnv: Record<string, string> = {}) {
    const result = spawnSync(process.execPath, [quoratePartyEntry[0] ?? '', ...args], {
      encoding: 'utf8',
      timeout: requestTimeoutMs,
      env: {
        ...process.env,
        QUORATE_KEY_PASSPHRASE: 'a passphrase for the start tests',
        QUORATE_API_TOKEN: 'an-api-token-of-more-than-16-chars',
        QUORATE_LOG_LEVEL: 'warn',
        ...extraEnv,
      },
    });
    return { status: result.status, stderr: result.stderr };
  }
  const coordinator = ['coordinator', '--listen', '127.0.0.1:0'];

  test('--tls-cert without --tls-key, or a key of another certificate, is QUORATE_E_CONFIG', () => {
    const data = ['--data', join(pki.dir, 'c1')];
    const half = run([...coordinator, ...data, '--tls-cert', pki.serverCert]);
    assert.equal(half.status, 1, half.stderr);
    assert.match(half.stderr, /QUORATE_E_CONFIG: --tls-cert and --tls-key go together/);
    const mismatch = run([
      ...coordinator,
      ...data,
      '--tls-cert',
      pki.serverCert,
      '--tls-key',
      pki.clientKey,
    ]);
    assert.equal(mismatch.status, 1, mismatch.stderr);
    assert.match(mismatch.stderr, /QUORATE_E_CONFIG: .*key does not match its certificate/);
    const missing = run([
      ...coordinator,
      ...data,
      '--tls-cert',
      join(pki.dir, 'nope.crt'),
      '--tls-key',
      pki.serverKey,
    ]);
    assert.equal(missing.status, 1, missing.stderr);
    assert.match(missing.stderr, /QUORATE_E_CONFIG: cannot read --tls-cert file/);
  });

  test('a short or repetitive party secret stops coordinator and party', () => {
    for (const secret of ['enrolment-secret', 'abababababababababababababab']) {
      const c = run([...coordinator, '--data', join(pki.dir, 'c2')], {
        QUORATE_PARTY_SECRET: secret,
      });
      assert.equal(c.status, 1, c.stderr);
      assert.match(c.stderr, /QUORATE_E_CONFIG: --party-secret/);
      assert.doesNotMatch(c.stderr, new RegExp(secret));
      const p = run(
        ['party', '--id', 'p1', '--coordinator', 'ws://127.0.0.1:9', '--data', join(pki.dir, 'p')],
        { QUORATE_PARTY_SECRET: secret },
      );
      assert.equal(p.status, 1, p.stderr);
      assert.match(p.stderr, /QUORATE_E_CONFIG: --party-secret/);
    }
  });
});
