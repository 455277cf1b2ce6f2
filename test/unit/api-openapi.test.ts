/**
 * The HTTP API's shape: the OpenAPI document is the one the API has published since before
 * `buildApi` and `buildOpenApi` were split along their jobs (pinned digest), every documented
 * route exists, and `wrapLink` sees every party WebSocket link before the coordinator does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { FastifyInstance } from 'fastify';
import { WebSocket } from 'ws';
import { buildOpenApi } from '../../src/api/openapi.ts';
import { buildApi } from '../../src/api/server.ts';
import { errorTable } from '../../src/core/errors.ts';
import { partyWsPath, type Link } from '../../src/transport/link.ts';
import { inProcessApi, testApiToken as token } from '../helpers/in-process-api.ts';

/**
 * sha256 of `JSON.stringify` of the document without `components['x-error-codes']` (checked
 * against the error table below). It was the document built at commit e320bbd, before the
 * split; issue 13 added the paged listings `GET /v1/wallets` and `GET /v1/sessions`, then
 * `GET /v1/parties/{partyId}` and the optional paging and state filter of `GET /v1/parties`
 * (task H5: one party's row without the 10 000-row listing); issue 14 the `ecdsa` scheme (a
 * wallet's `ethereumAddress`, a signature's `recoveryId`, a request's `transaction` and its
 * `signedTransaction`, a request's `derivationPath`, `GET /v1/wallets/{walletId}/addresses`); issue 15 the key lifecycle (`POST
 * /v1/wallets/{walletId}/refresh` and `/reshare`, `PUT /v1/wallets/{walletId}/refresh-schedule`, `GET /v1/operations/{operationId}`, a wallet's
 * `epoch` and `operation`). A deliberate change to the API
 * changes this digest in the same commit.
 */
const documentDigest = '141f9cc6bca23c99598734171b6f5ce0032b6f37cb6b46342e12b10c87625a09';

function withoutErrorCodes(document: Record<string, unknown>): Record<string, unknown> {
  const components = { ...(document['components'] as Record<string, unknown>) };
  delete components['x-error-codes'];
  return { ...document, components };
}

describe('OpenAPI document', () => {
  test('is byte for byte the published document, with every error code of the table', () => {
    const document = buildOpenApi();
    const digest = bytesToHex(sha256(utf8ToBytes(JSON.stringify(withoutErrorCodes(document)))));
    assert.equal(digest, documentDigest);
    const components = document['components'] as Record<string, unknown>;
    assert.deepEqual(components['x-error-codes'], errorTable);
  });
});

describe('HTTP routes and party links', () => {
  const api = inProcessApi('w_000000000000000000000002');
  let app: FastifyInstance;

  before(async () => {
    app = await api.start();
  });
  after(async () => {
    await api.coordinator.stop();
    await app.close();
  });

  test('every documented route exists, and /openapi.json serves the document', async () => {
    const paths = buildOpenApi()['paths'] as Record<string, Record<string, unknown>>;
    for (const [path, operations] of Object.entries(paths)) {
      for (const method of Object.keys(operations)) {
        const url = path.replace(/\{(\w+)\}/g, ':$1');
        assert.ok(app.hasRoute({ method: method.toUpperCase(), url }), `${method} ${path}`);
      }
    }
    const res = await app.inject({
      method: 'GET',
      url: '/openapi.json',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), JSON.parse(JSON.stringify(buildOpenApi())));
  });

  test('wrapLink wraps every party link before the coordinator accepts it', async () => {
    const wrapped: { closes: string[] }[] = [];
    const wrapLink = (link: Link): Link => {
      const seen = { closes: [] as string[] };
      wrapped.push(seen);
      return {
        send: (frame) => link.send(frame),
        close: (reason) => {
          seen.closes.push(reason);
          link.close(reason);
        },
        onFrame: (handler) => link.onFrame(handler),
        onClose: (handler) => link.onClose(handler),
        get isOpen() {
          return link.isOpen;
        },
      };
    };
    const server = buildApi(api.coordinator, { apiToken: token, wrapLink });
    await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = server.server.address() as AddressInfo;
      const socket = new WebSocket(`ws://127.0.0.1:${port}${partyWsPath}`);
      await once(socket, 'open');
      assert.equal(wrapped.length, 1, 'the link was wrapped once');
      // A frame that is not a hello: the coordinator closes the link, through the wrapper.
      socket.send(JSON.stringify({ t: 'not-a-hello' }));
      await once(socket, 'close');
      assert.equal(wrapped[0]?.closes.length, 1, 'the coordinator closed the wrapped link');
    } finally {
      await server.close();
    }
  });
});
