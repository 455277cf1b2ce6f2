/**
 * The party's per-connection boundaries turn errors caused by what arrives into a refusal or a
 * closed connection, but a failed assertion (a broken invariant: a bug) is never swallowed
 * there: it propagates, so the process crashes (STYLE: programmer errors crash).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { assert as invariant } from '../../src/core/assert.ts';
import { sha256Hex } from '../../src/core/encoding.ts';
import type { PartyEngine } from '../../src/protocol/engine.ts';
import { engines } from '../../src/protocol/frost.ts';
import { runKeygen } from '../../src/protocol/local-run.ts';
import { buildSignStart, validateRefuse } from '../../src/transport/wire.ts';
import { connectedParty, testRng } from '../helpers/party-harness.ts';

const walletId = 'w_00000000000000000000000b';
const message = utf8ToBytes('pay 1 to carol');
const [share] = runKeygen('ed25519', ['p1', 'p2'], 2, testRng).map((k) => ({ ...k, walletId }));

const signStart = (sessionId: string) =>
  buildSignStart(
    { sessionId, attempt: 1, token: 1 },
    {
      walletId,
      intentKey: sessionId,
      messageHex: bytesToHex(message),
      messageHash: sha256Hex(message),
      signers: ['p1', 'p2'],
      deadlineMs: 0,
      remainingMs: 30_000,
    },
  );

/** An ed25519 engine whose signer fails with `fail` as soon as it is asked to sign. */
function brokenEngine(fail: () => void): PartyEngine {
  return {
    ...engines.ed25519,
    signer: () => {
      fail();
      throw new Error('fail() returned');
    },
  };
}

test('an ordinary error while handling a frame is a refusal to the coordinator', () => {
  const h = connectedParty('p1', [share!], {
    engines: {
      ed25519: brokenEngine(() => {
        throw new Error('engine unavailable');
      }),
    },
  });
  after(() => h.close());
  const [answer] = h.send(signStart('s_error'));
  assert.equal(answer?.kind, 'refuse');
  const body = validateRefuse(answer.body);
  assert.ok(body.ok);
  assert.equal(body.value.code, 'QUORATE_E_INTERNAL');
});

test('a failed assertion while handling a frame is not caught by the boundary: it propagates', () => {
  const h = connectedParty('p1', [share!], {
    engines: { ed25519: brokenEngine(() => invariant(false, 'test: a broken invariant')) },
  });
  after(() => h.close());
  assert.throws(() => h.send(signStart('s_assert')), /test: a broken invariant/);
});
