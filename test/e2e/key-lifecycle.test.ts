/**
 * Key lifecycle on real processes (issue 15's acceptance): a 2-of-3 bip340 and a 2-of-3 ed25519
 * wallet each sign, are reshared to 3-of-5 with two new parties (the public key byte-identical),
 * sign with a quorum that must include a new party (verified by OpenSSL or the plain BIP340
 * verifier), and are reshared again without one party, whose share is then erased on its disk.
 * A lost (killed) party is replaced and the wallet signs with the replacement. An ecdsa wallet's
 * refresh is refused with a stable code.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { bytesToHex } from '@noble/hashes/utils.js';
import { LocalCluster } from '../../src/cli/local-cluster.ts';
import { sealOperatorKey } from '../../src/cli/operator-command.ts';
import { runWalletCommand } from '../../src/cli/wallet-command.ts';
import { realEnv } from '../../src/core/env.ts';
import { signDetached } from '../../src/transport/identity.ts';
import { reshareAuthorization, reshareAuthorizationDomain } from '../../src/transport/wire.ts';
import { verifyIndependently } from '../helpers/verify-independently.ts';

const parties = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];

describe('key lifecycle with real processes', () => {
  const cluster = new LocalCluster();
  before(async () => {
    await cluster.startWithParties(parties);
  });
  after(() => cluster.stop());

  /** Polls the operation until it ended (bounded: 300 polls of 100 ms). */
  async function ended(operationId: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 300; i++) {
      const { json } = await cluster.request('GET', `/v1/operations/${operationId}`);
      if (json['status'] !== 'running') return json;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`operation ${operationId} still running`);
  }

  /** The operator's authorization of resharing the wallet's current epoch to (t, parties). */
  async function authorization(walletId: string, threshold: number, parties: string[]) {
    const wallet = (await cluster.request('GET', `/v1/wallets/${walletId}`)).json;
    const fromEpoch = wallet['epoch'] as number;
    const statement = reshareAuthorization({ walletId, fromEpoch, threshold, parties });
    const signature = signDetached(
      reshareAuthorizationDomain,
      statement,
      cluster.operator.signSecret,
    );
    return bytesToHex(signature);
  }

  async function reshare(walletId: string, threshold: number, members: string[]) {
    const started = await cluster.request('POST', `/v1/wallets/${walletId}/reshare`, {
      threshold,
      parties: members,
      authorization: await authorization(walletId, threshold, members),
    });
    assert.equal(started.status, 202, JSON.stringify(started.json));
    const op = await ended(started.json['operationId'] as string);
    assert.equal(op['status'], 'done', JSON.stringify(op));
    return op;
  }

  async function sign(walletId: string, intentKey: string, scheme: string, pk: string) {
    const message = Buffer.from(intentKey).toString('hex');
    const signed = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
      message,
      intentKey,
    });
    assert.equal(signed.status, 200, JSON.stringify(signed.json));
    const signature = signed.json['signature'] as string;
    assert.ok(verifyIndependently(scheme, signature, message, pk), 'independent verifier accepts');
    return signed.json['signers'] as string[];
  }

  /** True if the party's journal still holds a sealed share row of `walletId` (any epoch). */
  function holdsShare(partyId: string, walletId: string): boolean {
    const db = new Database(join(cluster.dataDir, 'parties', partyId, 'journal.sqlite'), {
      readonly: true,
    });
    try {
      const row = db
        .prepare('SELECT count(*) AS n FROM key_shares WHERE wallet_id LIKE ?')
        .get(`${walletId}%`) as { n: number };
      return row.n > 0;
    } finally {
      db.close();
    }
  }

  for (const scheme of ['bip340', 'ed25519']) {
    test(`${scheme}: 2-of-3 → 3-of-5 with two new parties, then without p1`, async () => {
      const created = await cluster.request('POST', '/v1/wallets', {
        scheme,
        threshold: 2,
        parties: ['p1', 'p2', 'p3'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const walletId = created.json['walletId'] as string;
      const pk = created.json['publicKey'] as string;
      assert.equal(created.json['epoch'], 0);
      await sign(walletId, `${scheme}-before`, scheme, pk);

      const op = await reshare(walletId, 3, ['p1', 'p2', 'p3', 'p4', 'p5']);
      assert.equal(op['fromEpoch'], 0);
      assert.equal(op['toEpoch'], 1);
      const wallet = (await cluster.request('GET', `/v1/wallets/${walletId}`)).json;
      assert.equal(wallet['publicKey'], pk, 'public key byte-identical');
      assert.equal(wallet['epoch'], 1);
      assert.equal(wallet['threshold'], 3);
      assert.deepEqual(wallet['parties'], ['p1', 'p2', 'p3', 'p4', 'p5']);

      // Only p3, p4 and p5 up: the quorum must include both new parties.
      await cluster.kill('p1');
      await cluster.kill('p2');
      await cluster.waitForParties(['p1', 'p2'], 'not-alive');
      const signers = await sign(walletId, `${scheme}-new-parties`, scheme, pk);
      assert.deepEqual([...signers].sort(), ['p3', 'p4', 'p5']);
      cluster.startParty('p1');
      cluster.startParty('p2');
      await cluster.waitForParties(['p1', 'p2']);

      // p1 is removed: its share of the wallet is erased on its own disk.
      const second = await reshare(walletId, 3, ['p2', 'p3', 'p4', 'p5']);
      for (let i = 0; i < 50 && holdsShare('p1', walletId); i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.equal(holdsShare('p1', walletId), false, 'the removed party erased its share');
      const progress = (await ended(second['operationId'] as string))['progress'] as Record<
        string,
        string
      >;
      assert.ok(['erased', 'dealt'].includes(progress['p1'] ?? ''), JSON.stringify(progress));
      // With p1 the only other party up, the wallet cannot sign: p1 is no longer one of its own.
      await cluster.kill('p4');
      await cluster.kill('p5');
      await cluster.waitForParties(['p4', 'p5'], 'not-alive');
      const refused = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
        message: 'aa',
        intentKey: `${scheme}-without-p1`,
      });
      assert.equal(refused.status, 503, JSON.stringify(refused.json));
      const error = refused.json['error'] as { code: string };
      assert.equal(error.code, 'QUORATE_E_QUORUM_UNAVAILABLE');
      cluster.startParty('p4');
      cluster.startParty('p5');
      await cluster.waitForParties(['p4', 'p5']);
      await sign(walletId, `${scheme}-after-removal`, scheme, pk);
    });
  }

  test('a lost party is replaced (its share never needed) and the replacement signs', async () => {
    const created = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ed25519',
      threshold: 2,
      parties: ['p4', 'p5', 'p6'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const walletId = created.json['walletId'] as string;
    const pk = created.json['publicKey'] as string;
    await cluster.kill('p6'); // lost: never comes back
    await cluster.waitForParties(['p6'], 'not-alive');
    const op = await reshare(walletId, 2, ['p4', 'p5', 'p1']);
    assert.deepEqual([...(op['dealers'] as string[])].sort(), ['p4', 'p5']);
    await cluster.kill('p4');
    await cluster.waitForParties(['p4'], 'not-alive');
    const signers = await sign(walletId, 'replacement-signs', 'ed25519', pk);
    assert.deepEqual([...signers].sort(), ['p1', 'p5']);
    cluster.startParty('p4');
    await cluster.waitForParties(['p4']);
  });

  test('refresh under load: every concurrent request signs (old or new epoch), once', async () => {
    const created = await cluster.request('POST', '/v1/wallets', {
      scheme: 'bip340',
      threshold: 2,
      parties: ['p2', 'p3', 'p4'],
    });
    const walletId = created.json['walletId'] as string;
    const pk = created.json['publicKey'] as string;
    const requests = Array.from({ length: 12 }, (_, i) =>
      sign(walletId, `load-${i}`, 'bip340', pk),
    );
    const refreshed = await cluster.request('POST', `/v1/wallets/${walletId}/refresh`, {});
    assert.equal(refreshed.status, 202, JSON.stringify(refreshed.json));
    const more = Array.from({ length: 12 }, (_, i) => sign(walletId, `load-b-${i}`, 'bip340', pk));
    await Promise.all([...requests, ...more]); // each asserts 200 and an independent verify
    const op = await ended(refreshed.json['operationId'] as string);
    assert.equal(op['status'], 'done', JSON.stringify(op));
    await sign(walletId, 'after-refresh', 'bip340', pk);
  });

  test('kill -9 of the coordinator at any point of an operation: one usable epoch after', async () => {
    const created = await cluster.request('POST', '/v1/wallets', {
      scheme: 'ed25519',
      threshold: 2,
      parties: ['p1', 'p2', 'p3'],
    });
    const walletId = created.json['walletId'] as string;
    const pk = created.json['publicKey'] as string;
    // Killed 0 to 250 ms into the operation (staging, test signature, flip, retirement).
    for (const delayMs of [0, 40, 80, 120, 160, 200, 250]) {
      const before = (await cluster.request('GET', `/v1/wallets/${walletId}`)).json;
      const started = await cluster.request('POST', `/v1/wallets/${walletId}/refresh`, {});
      assert.equal(started.status, 202, JSON.stringify(started.json));
      await new Promise((r) => setTimeout(r, delayMs));
      await cluster.kill('coordinator');
      await cluster.startCoordinator();
      await cluster.waitForParties(['p1', 'p2', 'p3']);
      const op = await ended(started.json['operationId'] as string);
      assert.ok(['done', 'failed'].includes(op['status'] as string), JSON.stringify(op));
      const after = (await cluster.request('GET', `/v1/wallets/${walletId}`)).json;
      const { status, error } = op;
      console.log(JSON.stringify({ killedAfterMs: delayMs, status, error: error ?? null }));
      const expected = (before['epoch'] as number) + (op['status'] === 'done' ? 1 : 0);
      assert.equal(after['epoch'], expected, `killed after ${delayMs} ms: ${JSON.stringify(op)}`);
      assert.equal(after['publicKey'], pk);
      await sign(walletId, `after-kill-${delayMs}`, 'ed25519', pk);
    }
  });

  test("quorate wallet reshare --to-policy: the lab's figures, then the policy's t and shares", async () => {
    const created = await cluster.request('POST', '/v1/wallets', {
      scheme: 'bip340',
      threshold: 2,
      parties: ['p1', 'p2', 'p3'],
    });
    const walletId = created.json['walletId'] as string;
    const dir = mkdtempSync(join(tmpdir(), 'quorate-wallet-cli-'));
    try {
      // The cluster's operator key, sealed as `quorate operator init` writes one.
      const keyFile = join(dir, 'operator.key');
      const env = realEnv({ logLevel: 'silent' });
      const passphrase = cluster.passphrase;
      process.env['QUORATE_KEY_PASSPHRASE'] = passphrase;
      const sealed = sealOperatorKey(cluster.operator.signSecret, passphrase, env);
      writeFileSync(keyFile, JSON.stringify(sealed));
      const policyFile = join(dir, 'policy.yaml');
      const share = (id: string, domain: string) =>
        `  - { id: ${id}, type: backend, domain: ${domain}, mttfHours: 2000, mttrHours: 2 }`;
      writeFileSync(
        policyFile,
        [
          'slo: 0.999',
          'shares:',
          ...['p1', 'p2', 'p3', 'p4', 'p5'].map((p) => share(p, `d-${p}`)),
          'policies:',
          '  - { id: wider, threshold: 3, shares: [p1, p2, p3, p4, p5] }',
          '',
        ].join('\n'),
      );
      const argv = ['reshare', '--wallet', walletId, '--coordinator', cluster.url];
      argv.push('--api-token', cluster.apiToken, '--operator-key', keyFile);
      argv.push('--to-policy', policyFile, '--policy-id', 'wider');
      const out: string[] = [];
      const err: string[] = [];
      let asked = '';
      const code = await runWalletCommand([...argv, '--wait'], {
        out: (line) => out.push(line),
        err: (line) => err.push(line),
        confirm: async (question) => {
          asked = question;
          return true;
        },
        fetch,
        env: realEnv({ logLevel: 'silent' }),
      });
      assert.equal(code, 0, err.join('\n'));
      assert.match(asked, /reshare the wallet to this policy/);
      const figures = JSON.parse(out[0] ?? '{}') as Record<string, Record<string, unknown> | null>;
      assert.equal(figures['before']?.['threshold'], 2);
      assert.equal(figures['after']?.['threshold'], 3);
      assert.ok((figures['after']?.['availability'] as number) > 0.99);
      const op = JSON.parse(out[1] ?? '{}') as Record<string, unknown>;
      assert.equal(op['status'], 'done', out.join('\n'));
      const wallet = (await cluster.request('GET', `/v1/wallets/${walletId}`)).json;
      assert.equal(wallet['threshold'], 3);
      assert.deepEqual(wallet['parties'], ['p1', 'p2', 'p3', 'p4', 'p5']);
      assert.equal(wallet['publicKey'], created.json['publicKey']);
      // Declined at the prompt: nothing is asked of the coordinator.
      const declined = await runWalletCommand(argv, {
        out: () => {},
        err: () => {},
        confirm: async () => false,
        fetch,
        env: realEnv({ logLevel: 'silent' }),
      });
      assert.equal(declined, 1);
      assert.equal((await cluster.request('GET', `/v1/wallets/${walletId}`)).json['epoch'], 1);
    } finally {
      delete process.env['QUORATE_KEY_PASSPHRASE'];
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad requests are refused with stable codes, and nothing changes', async () => {
    const created = await cluster.request('POST', '/v1/wallets', {
      scheme: 'bip340',
      threshold: 2,
      parties: ['p1', 'p2', 'p3'],
    });
    const walletId = created.json['walletId'] as string;
    const bad = await cluster.request('POST', `/v1/wallets/${walletId}/reshare`, {
      threshold: 4,
      parties: ['p1', 'p2', 'p3'],
      authorization: await authorization(walletId, 4, ['p1', 'p2', 'p3']),
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.json['error'] as { code: string }).code, 'QUORATE_E_INVALID_THRESHOLD');
    const unauthorized = await cluster.request('POST', `/v1/wallets/${walletId}/reshare`, {
      threshold: 2,
      parties: ['p1', 'p2', 'p4'],
    });
    assert.equal(unauthorized.status, 400, JSON.stringify(unauthorized.json));
    // Authorized for another party set: the dealers refuse, the operation rolls back.
    const forged = await cluster.request('POST', `/v1/wallets/${walletId}/reshare`, {
      threshold: 2,
      parties: ['p1', 'p2', 'p5'],
      authorization: await authorization(walletId, 2, ['p1', 'p2', 'p4']),
    });
    assert.equal(forged.status, 202, JSON.stringify(forged.json));
    const refused = await ended(forged.json['operationId'] as string);
    assert.equal(refused['status'], 'failed', JSON.stringify(refused));
    assert.match(JSON.stringify(refused['error']), /POLICY_DENIED/);
    const unchanged = (await cluster.request('GET', `/v1/wallets/${walletId}`)).json;
    assert.equal(unchanged['epoch'], 0);
    assert.deepEqual(unchanged['parties'], ['p1', 'p2', 'p3']);
    const unknown = await cluster.request('GET', '/v1/operations/o_nope');
    assert.equal(unknown.status, 404);
    assert.equal((unknown.json['error'] as { code: string }).code, 'QUORATE_E_OPERATION_NOT_FOUND');
    const missing = await cluster.request('POST', '/v1/wallets/w_nope/refresh', {});
    assert.equal((missing.json['error'] as { code: string }).code, 'QUORATE_E_WALLET_NOT_FOUND');
    const refreshed = await cluster.request('POST', `/v1/wallets/${walletId}/refresh`, {});
    assert.equal(refreshed.status, 202, JSON.stringify(refreshed.json));
    const op = await ended(refreshed.json['operationId'] as string);
    assert.equal(op['status'], 'done', JSON.stringify(op));
    const wallet = (await cluster.request('GET', `/v1/wallets/${walletId}`)).json;
    assert.equal(wallet['epoch'], 1);
    assert.equal(wallet['publicKey'], created.json['publicKey']);
  });
});
