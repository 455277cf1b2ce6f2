/**
 * Party administration and connection slots on a real coordinator process (issue 12 finding
 * 5). Raw WebSocket clients in this process play squatters and parties; everything stays on
 * 127.0.0.1 and every loop is bounded.
 *
 * - Idle registered links that never answer a ping free their slots: tested in-process with a
 *   small `connectionsMax` (test/unit/party-heartbeat-classes.test.ts), since filling the
 *   16 384 slots of a real coordinator would take minutes.
 * - Per-party enrolment tokens, revoke and unpin through the admin API.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { WebSocket } from 'ws';
import { LocalCluster } from '../../src/cli/local-cluster.ts';
import { generateIdentity, signDetached, type IdentityKeys } from '../../src/transport/identity.ts';
import { partyWsPath } from '../../src/transport/link.ts';
import { buildHello, helloDomain, helloTranscript } from '../../src/transport/wire.ts';

/** How a dial ended: welcomed (the socket stays open, pings unanswered) or rejected. */
interface Dialled {
  outcome: 'welcome' | 'reject' | 'closed';
  reason: string;
  ws: WebSocket;
}

/** The MAC key a party derives: the shared secret's bytes, or sha256 of its enrolment token. */
type MacKey = Uint8Array | undefined;

const secretKey = (secret: string): Uint8Array => utf8ToBytes(secret);
const tokenKey = (token: string): Uint8Array => sha256(utf8ToBytes(token));

/** One raw party connection: challenge → hello → welcome or reject (bounded by a timer). */
function dial(url: string, partyId: string, keys: IdentityKeys, macKey: MacKey): Promise<Dialled> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${partyWsPath}`);
  return new Promise((resolve) => {
    const done = (outcome: Dialled['outcome'], reason: string) => {
      clearTimeout(timer);
      resolve({ outcome, reason, ws });
    };
    const timer = setTimeout(() => done('closed', 'no answer in 10 s'), 10_000);
    ws.on('error', () => {});
    ws.on('close', () => done('closed', 'closed'));
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(String(data)) as Record<string, string>;
      if (frame['t'] === 'challenge') {
        const fields = {
          conn: frame['conn']!,
          nonce: frame['nonce']!,
          partyId,
          identityKey: bytesToHex(keys.signPublic),
          boxKey: bytesToHex(keys.boxPublic),
        };
        const transcript = helloTranscript(fields);
        const hello = buildHello({
          partyId,
          identityKey: fields.identityKey,
          boxKey: fields.boxKey,
          proof: bytesToHex(signDetached(helloDomain, transcript, keys.signSecret)),
          ...(macKey === undefined
            ? {}
            : { enrollMac: bytesToHex(hmac(sha256, macKey, transcript)) }),
        });
        ws.send(JSON.stringify(hello));
      } else if (frame['t'] === 'welcome') done('welcome', '');
      else if (frame['t'] === 'reject') done('reject', `${frame['code']}: ${frame['message']}`);
      // Envelopes (pings) are ignored: an idle link that never answers.
    });
  });
}

const newKeys = () => generateIdentity(new Uint8Array(randomBytes(64)));

/**
 * A real coordinator for one describe block, and the raw sockets its tests open (all closed,
 * and the coordinator stopped, after the block).
 */
function coordinatorForBlock(coordinatorArgs: string[] = []) {
  const cluster = new LocalCluster({ coordinatorArgs });
  const open: WebSocket[] = [];
  const block = { cluster, open, url: '' };
  before(async () => {
    block.url = await cluster.startCoordinator();
  });
  after(async () => {
    for (const ws of open) ws.terminate();
    await cluster.stop();
  });
  return block;
}

describe('per-party enrolment tokens, revoke and unpin (real coordinator)', () => {
  const block = coordinatorForBlock();
  const { cluster, open } = block;

  const enrol = async (partyId: string, body: Record<string, unknown> = {}) => {
    const r = await cluster.request('POST', `/v1/parties/${partyId}/enrolment`, body);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json as { partyId: string; token: string; expiresMs: number };
  };
  const enrolmentOf = async (partyId: string) => {
    const r = await cluster.request('GET', '/v1/parties');
    const rows = r.json['parties'] as { partyId: string; enrolment: string }[];
    return rows.find((row) => row.partyId === partyId)?.enrolment;
  };
  const connect = async (partyId: string, keys: IdentityKeys, macKey: MacKey) => {
    const d = await dial(block.url, partyId, keys, macKey);
    open.push(d.ws);
    return d;
  };

  test('a token enrols its party id once; a wrong or spent token is refused', async () => {
    const issued = await enrol('vault');
    assert.match(issued.token, /^qpe_[A-Za-z0-9_-]{43}$/);
    assert.equal(await enrolmentOf('vault'), 'invited');
    const keys = newKeys();
    const wrong = await connect('vault', keys, tokenKey('qpe_not-the-token'));
    assert.equal(wrong.outcome, 'reject');
    // The shared secret does not enrol an invited id either.
    const shared = await connect('vault', keys, secretKey(cluster.partySecret));
    assert.equal(shared.outcome, 'reject');
    const ok = await connect('vault', keys, tokenKey(issued.token));
    assert.equal(ok.outcome, 'welcome', ok.reason);
    assert.equal(await enrolmentOf('vault'), 'enrolled');
    const squatter = await connect('vault', newKeys(), tokenKey(issued.token));
    assert.equal(squatter.outcome, 'reject');
    assert.match(squatter.reason, /ENROLLMENT_DENIED/);
  });

  test('revoke closes the link and refuses the pinned keys until a new token', async () => {
    const keys = newKeys();
    assert.equal(
      (await connect('hsm', keys, tokenKey((await enrol('hsm')).token))).outcome,
      'welcome',
    );
    const revoked = await cluster.request('POST', '/v1/parties/hsm/revoke');
    assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
    assert.equal(await enrolmentOf('hsm'), 'revoked');
    const refused = await connect('hsm', keys, undefined);
    assert.equal(refused.outcome, 'reject');
    assert.match(refused.reason, /revoked/);
    const fresh = newKeys();
    const back = await connect('hsm', fresh, tokenKey((await enrol('hsm')).token));
    assert.equal(back.outcome, 'welcome', back.reason);
    assert.equal(await enrolmentOf('hsm'), 'enrolled');
  });

  test('a rotate token replaces the pin; a plain one does not', async () => {
    const keys = newKeys();
    assert.equal(
      (await connect('mobile', keys, tokenKey((await enrol('mobile')).token))).outcome,
      'welcome',
    );
    const plain = await connect('mobile', newKeys(), tokenKey((await enrol('mobile')).token));
    assert.equal(plain.outcome, 'reject');
    const rotated = newKeys();
    const token = (await enrol('mobile', { rotate: true, ttlSeconds: 60 })).token;
    assert.equal((await connect('mobile', rotated, tokenKey(token))).outcome, 'welcome');
    assert.equal((await connect('mobile', keys, undefined)).outcome, 'reject');
  });

  test('unpin frees the id; unknown ids are 404 QUORATE_E_PARTY_NOT_FOUND', async () => {
    const keys = newKeys();
    assert.equal((await connect('temp', keys, secretKey(cluster.partySecret))).outcome, 'welcome');
    const unpinned = await cluster.request('DELETE', '/v1/parties/temp');
    assert.deepEqual(unpinned.json, { partyId: 'temp', unpinned: true });
    assert.equal(await enrolmentOf('temp'), undefined);
    const other = await connect('temp', newKeys(), secretKey(cluster.partySecret));
    assert.equal(other.outcome, 'welcome', other.reason);
    for (const [method, path] of [
      ['DELETE', '/v1/parties/ghost'],
      ['POST', '/v1/parties/ghost/revoke'],
    ] as const) {
      const r = await cluster.request(method, path);
      assert.equal(r.status, 404);
      assert.equal((r.json['error'] as { code: string }).code, 'QUORATE_E_PARTY_NOT_FOUND');
    }
  });
});
