/**
 * etcd over TLS (issue 12 deliverable 4): a real etcd serving its client port over TLS with
 * `--client-cert-auth`, certificates from a test CA made by openssl. The gateway client reads
 * and writes with the CA and a client certificate; without the client certificate, or trusting
 * another CA, every call fails with QUORATE_E_STORE_UNAVAILABLE naming the TLS problem. On
 * real processes, a coordinator on that etcd signs, and one without client certificate does
 * not start and says why.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCluster, quoratePartyEntry } from '../../src/cli/local-cluster.ts';
import { realEnv } from '../../src/core/env.ts';
import { QuorateError } from '../../src/core/errors.ts';
import { EtcdGateway, etcd, type EtcdTlsOptions } from '../../src/store/etcd-gateway.ts';
import { requireEtcd } from '../helpers/etcd-cluster.ts';
import { makeTestPki, type TestPki } from '../helpers/tls-pki.ts';

const env = realEnv({ logLevel: 'silent' });
const etcdBin = process.env['QUORATE_ETCD_BIN'] ?? 'etcd';
const healthTriesMax = 150;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const isUnavailable = (pattern: RegExp) => (error: unknown) =>
  error instanceof QuorateError &&
  error.code === 'QUORATE_E_STORE_UNAVAILABLE' &&
  pattern.test(String(error.detail['lastError']));

describe('etcd over TLS with client certificates', () => {
  let pki: TestPki;
  let child: ChildProcess | undefined;
  let endpoint = '';
  let tls: EtcdTlsOptions;

  before(async () => {
    requireEtcd();
    pki = makeTestPki();
    tls = {
      ca: readFileSync(pki.caCert, 'utf8'),
      cert: readFileSync(pki.clientCert, 'utf8'),
      key: readFileSync(pki.clientKey, 'utf8'),
    };
    const [clientPort, peerPort] = [randomInt(20_000, 26_000), randomInt(26_000, 32_000)];
    endpoint = `https://127.0.0.1:${clientPort}`;
    // prettier-ignore
    child = spawn(etcdBin, [
      '--name', 'tls', '--data-dir', join(pki.dir, 'etcd'),
      '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `tls=http://127.0.0.1:${peerPort}`,
      '--cert-file', pki.serverCert, '--key-file', pki.serverKey,
      '--trusted-ca-file', pki.caCert, '--client-cert-auth',
      '--logger', 'zap', '--log-outputs', 'stderr',
    ], { stdio: 'ignore' });
    const gateway = new EtcdGateway([endpoint], env, tls);
    for (let i = 0; i < healthTriesMax; i++) {
      if (child.exitCode !== null) throw new Error(`etcd exited (${child.exitCode})`);
      const ok = await gateway.range('/health-probe').then(
        () => true,
        () => false,
      );
      if (ok) return;
      await sleep(100);
    }
    throw new Error('etcd over TLS did not answer within 15 s');
  });
  after(() => {
    child?.kill('SIGKILL');
    rmSync(pki.dir, { recursive: true, force: true });
  });

  test('the gateway writes and reads with the CA and a client certificate', async () => {
    const gateway = new EtcdGateway([endpoint], env, tls);
    const r = await gateway.txn([etcd.absent('/tls/a')], [etcd.put('/tls/a', 'one')], []);
    assert.equal(r.succeeded, true);
    const kvs = await gateway.range('/tls/a');
    assert.equal(kvs[0]?.value, 'one');
  });

  test('without a client certificate, or trusting another CA, calls fail and say why', async () => {
    const noClientCert = new EtcdGateway([endpoint], env, { ca: tls.ca });
    await assert.rejects(
      noClientCert.range('/tls/a'),
      isUnavailable(/certificate|alert|hang up|reset/i),
    );
    const otherCa = new EtcdGateway([endpoint], env, {
      ...tls,
      ca: readFileSync(pki.otherCaCert, 'utf8'),
    });
    await assert.rejects(otherCa.range('/tls/a'), isUnavailable(/certificate/i));
  });

  test('a coordinator on etcd over TLS signs; without a client certificate it does not start', async () => {
    const host = endpoint.replace('https://', '');
    const etcdArgs = ['--store', `etcd://${host}`, '--etcd-ca', pki.caCert];
    const cluster = new LocalCluster({
      coordinatorArgs: [...etcdArgs, '--etcd-cert', pki.clientCert, '--etcd-key', pki.clientKey],
    });
    try {
      await cluster.startWithParties(['p1', 'p2', 'p3']);
      const created = await cluster.request('POST', '/v1/wallets', {
        scheme: 'ed25519',
        threshold: 2,
        parties: ['p1', 'p2', 'p3'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const signed = await cluster.request(
        'POST',
        `/v1/wallets/${String(created.json['walletId'])}/signatures`,
        { message: Buffer.from('etcd tls').toString('hex'), intentKey: 'etcd-tls-1' },
      );
      assert.equal(signed.status, 200, JSON.stringify(signed.json));
      assert.equal(signed.json['status'], 'signed');
    } finally {
      await cluster.stop();
    }
    const refused = spawnSync(
      process.execPath,
      [
        quoratePartyEntry[0] ?? '',
        'coordinator',
        '--listen',
        '127.0.0.1:0',
        '--data',
        join(pki.dir, 'c'),
        ...etcdArgs,
      ],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          QUORATE_KEY_PASSPHRASE: 'a passphrase for the etcd tls test',
          QUORATE_API_TOKEN: 'an-api-token-of-more-than-16-chars',
          QUORATE_LOG_LEVEL: 'warn',
        },
      },
    );
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /QUORATE_E_STORE_UNAVAILABLE: cannot reach etcd at .* over TLS: /);
  });
});
