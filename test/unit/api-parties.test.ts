/**
 * The party endpoints at scale (issue 13, part 4, task H5), in-process: `GET /v1/parties/{id}`
 * answers one party's row (404 QUORATE_E_PARTY_NOT_FOUND for an unknown one, 403 for a role the
 * table refuses), `GET /v1/parties` still lists every party without a query and pages by cursor
 * with one (every party exactly once, limits 1..storePageSizeMax, a bad cursor refused), and
 * `/metrics` keeps per-party series bounded while counting every party by state.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/server.ts';
import { principalFromToken } from '../../src/api/principals.ts';
import { CoordinatorMetrics } from '../../src/coordinator/metrics.ts';
import { limits } from '../../src/core/limits.ts';
import { inProcessApi } from '../helpers/in-process-api.ts';

const tokens = { auditor: 'auditor-token-0123456789', signer: 'signer-token-0123456789' };
const pinnedCount = 23;
const pinnedIds = Array.from({ length: pinnedCount }, (_, i) => `p-${String(i).padStart(3, '0')}`);

interface Row {
  partyId: string;
  state: string;
  lastSeenMs: number;
  enrolment: string;
}

describe('party endpoints', () => {
  const { coordinator, store } = inProcessApi('w_0000000000000000000000b5');
  let app: FastifyInstance;

  before(async () => {
    // Pinned before start: the registry knows them (down, never connected), as after a restart.
    for (const partyId of pinnedIds) {
      await store.pinParty({
        partyId,
        identityKey: '11'.repeat(32),
        boxKey: '22'.repeat(32),
        enrolledMs: 1,
      });
    }
    await coordinator.start();
    await coordinator.registry.issueEnrolment('invited-one', 600, false);
    app = buildApi(coordinator, {
      principals: [
        principalFromToken('auditor', tokens.auditor, ['auditor']),
        principalFromToken('signer', tokens.signer, ['signer']),
      ],
    });
  });
  after(async () => {
    await coordinator.stop();
    await app.close();
  });

  const get = (url: string, token: string = tokens.auditor) =>
    app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  const listing = async (url: string) => {
    const res = await get(url);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ parties: Row[]; nextCursor?: string }>();
  };

  test('GET /v1/parties/{partyId}: the listing row of a known party, enrolment included', async () => {
    const all = await listing('/v1/parties');
    for (const partyId of ['p-007', 'invited-one']) {
      const res = await get(`/v1/parties/${partyId}`);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(
        res.json(),
        all.parties.find((r) => r.partyId === partyId),
      );
    }
    assert.equal((await get('/v1/parties/p-007')).json<Row>().enrolment, 'enrolled');
    assert.equal((await get('/v1/parties/invited-one')).json<Row>().enrolment, 'invited');
    assert.equal((await get('/v1/parties/p-007')).json<Row>().state, 'down');
  });

  test('GET /v1/parties/{partyId}: 404 for an unknown party, 403 for a signer', async () => {
    const unknown = await get('/v1/parties/nobody');
    assert.equal(unknown.statusCode, 404, unknown.body);
    assert.equal(
      unknown.json<{ error: { code: string } }>().error.code,
      'QUORATE_E_PARTY_NOT_FOUND',
    );
    const refused = await get('/v1/parties/p-007', tokens.signer);
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'QUORATE_E_FORBIDDEN');
    const badId = await get('/v1/parties/NOT%20AN%20ID');
    assert.equal(badId.statusCode, 400, badId.body);
  });

  test('GET /v1/parties without a query lists every party, in id order, with no cursor', async () => {
    const all = await listing('/v1/parties');
    assert.deepEqual(
      all.parties.map((r) => r.partyId),
      ['invited-one', ...pinnedIds],
    );
    assert.equal(all.nextCursor, undefined);
  });

  test('paging by cursor returns every party exactly once, the same rows as the listing', async () => {
    const all = await listing('/v1/parties');
    const seen: Row[] = [];
    let url = '/v1/parties?limit=5';
    for (let pages = 0; pages < 10; pages++) {
      const page = await listing(url);
      assert.ok(page.parties.length <= 5);
      seen.push(...page.parties);
      if (page.nextCursor === undefined) break;
      url = `/v1/parties?limit=5&cursor=${page.nextCursor}`;
    }
    assert.deepEqual(seen, all.parties);
    // A cursor without a limit pages at the default size.
    const first = await listing('/v1/parties?limit=1');
    assert.ok(first.nextCursor !== undefined);
    const rest = await listing(`/v1/parties?cursor=${first.nextCursor}`);
    assert.deepEqual(rest.parties, all.parties.slice(1));
    assert.equal(rest.nextCursor, undefined);
  });

  test('the state filter selects rows by liveness, paged or not', async () => {
    assert.deepEqual((await listing('/v1/parties?state=alive')).parties, []);
    const down = await listing('/v1/parties?state=down&limit=500');
    assert.equal(down.parties.length, pinnedCount + 1);
    assert.equal(down.nextCursor, undefined);
    const firstPage = await listing('/v1/parties?state=alive&limit=1');
    assert.deepEqual(firstPage, { parties: [] });
  });

  test('page bounds and malformed cursors are refused with 400 QUORATE_E_BAD_REQUEST', async () => {
    for (const query of [
      'limit=0',
      `limit=${limits.storePageSizeMax + 1}`,
      'limit=-1',
      'limit=abc',
      'cursor=bm90LWEtY3Vyc29y',
      'cursor=',
      'state=gone',
      'other=1',
    ]) {
      const res = await get(`/v1/parties?${query}`);
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      assert.equal(res.json<{ error: { code: string } }>().error.code, 'QUORATE_E_BAD_REQUEST');
    }
    assert.equal((await get(`/v1/parties?limit=${limits.storePageSizeMax}`)).statusCode, 200);
  });

  test('/metrics counts every party by state in quorate_parties', async () => {
    const res = await get('/metrics');
    assert.equal(res.statusCode, 200, res.body);
    assert.match(
      res.body,
      new RegExp(`\\nquorate_parties\\{state="down"\\} ${pinnedCount + 1}\\n`),
    );
    assert.match(res.body, /\nquorate_parties\{state="alive"\} 0\n/);
  });
});

describe('party metrics stay bounded', () => {
  test('per-party state series for at most partyStateSeriesMax parties; a forgotten one frees its place', async () => {
    const metrics = new CoordinatorMetrics();
    const extra = 40;
    for (let i = 0; i < limits.partyStateSeriesMax + extra; i++) {
      metrics.setPartyState(`m-${i}`, 'alive');
    }
    const series = async () => (await metrics.partyState.get()).values;
    assert.equal((await series()).length, 3 * limits.partyStateSeriesMax);
    // A party with a series keeps updating it; one beyond the limit gets none.
    metrics.setPartyState('m-0', 'down');
    const values = await series();
    assert.equal(
      values.find((v) => v.labels.party === 'm-0' && v.labels.state === 'down')?.value,
      1,
    );
    assert.equal(
      values.some((v) => v.labels.party === `m-${limits.partyStateSeriesMax}`),
      false,
    );
    metrics.forgetPartyState('m-0');
    metrics.setPartyState('late', 'suspect');
    const after = await series();
    assert.equal(after.length, 3 * limits.partyStateSeriesMax);
    assert.equal(
      after.some((v) => v.labels.party === 'm-0'),
      false,
    );
    assert.equal(
      after.find((v) => v.labels.party === 'late' && v.labels.state === 'suspect')?.value,
      1,
    );
  });

  test('quorate_parties reads its counts at scrape time, and is zero without a source', async () => {
    const metrics = new CoordinatorMetrics();
    const counts = async () =>
      Object.fromEntries(
        (await metrics.parties.get()).values.map((v) => [String(v.labels.state), v.value]),
      );
    assert.deepEqual(await counts(), { alive: 0, suspect: 0, down: 0 });
    let alive = 10_000;
    metrics.countPartiesWith(() => ({ alive, suspect: 2, down: 3 }));
    assert.deepEqual(await counts(), { alive: 10_000, suspect: 2, down: 3 });
    alive = 9_999;
    assert.deepEqual(await counts(), { alive: 9_999, suspect: 2, down: 3 });
  });
});
