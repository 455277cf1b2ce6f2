/**
 * The one Store contract suite. Every store (memory, SQLite, etcd) registers it with a factory;
 * the tests are identical, only time and restarts differ: memory and SQLite run on a manual
 * store clock, etcd on real time with real lease expiry and a real `kill -9` restart.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { QuorateError } from '../../src/core/errors.ts';
import { limits } from '../../src/core/limits.ts';
import type {
  ClaimResult,
  Lease,
  PartyInvitation,
  PartyRecord,
  Store,
} from '../../src/store/store.ts';
import type { SessionRecord } from '../../src/session/record.ts';
import { historyTests } from './store-contract-history.ts';

/** One opened store under test. */
export interface StoreUnderTest {
  store: Store;
  /**
   * A crash of everything: the backing store is stopped hard and started again on the same
   * data (memory: closed and reopened; SQLite: file reopened; etcd: kill -9 and restart);
   * returns a fresh Store on that data. `store` is closed.
   */
  restart(): Promise<Store>;
  /** Lets `ms` pass on the store's clock (a manual clock jumps; etcd is waited on). */
  elapse(ms: number): Promise<void>;
  cleanup(): Promise<void>;
}

/** How to open a store for one test. */
export interface StoreFactory {
  name: string;
  open(): Promise<StoreUnderTest>;
  /** Extra time after a ttl before expiry must be visible (etcd checks leases every 500 ms). */
  leaseSlackMs: number;
  /** fast-check runs for properties (fewer on a real network store). */
  propertyRuns: number;
}

/** A store clock that only moves when told to. */
export class ManualClock {
  private ms = 1_000_000;
  nowMs = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

const ttlMs = limits.storeLeaseTtlMsMin;

let sessionSeq = 0;
/** A fresh pending session with a unique id and intent key unless given. */
export function session(
  overrides: Partial<SessionRecord> = {},
  createdMs = (sessionSeq += 1),
): SessionRecord {
  const id = overrides.sessionId ?? `s-${sessionSeq}-${createdMs}`;
  return {
    sessionId: id,
    walletId: 'w',
    intentKey: `k-${id}`,
    messageHex: '00',
    messageHash: 'h1',
    status: 'pending',
    createdMs,
    deadlineMs: 1000,
    attempts: [],
    excluded: [],
    slow: [],
    ...overrides,
  };
}

/** The refusal reason of a claim, or 'claimed'. */
const outcomeOf = (r: ClaimResult): string => (r.claimed ? 'claimed' : r.reason);

const isStale =
  (reason?: string) =>
  (e: unknown): boolean =>
    e instanceof QuorateError &&
    e.code === 'QUORATE_E_STALE_TOKEN' &&
    (reason === undefined || e.detail['reason'] === reason);

/** Runs `body` on a freshly opened store and always cleans up. */
async function withStore(
  factory: StoreFactory,
  body: (t: StoreUnderTest) => Promise<void>,
): Promise<void> {
  const t = await factory.open();
  try {
    await body(t);
  } finally {
    await t.cleanup();
  }
}

/** Registers the contract suite for one store. */
export function storeContract(factory: StoreFactory): void {
  describe(`Store contract: ${factory.name}`, () => {
    casTests(factory);
    intentTests(factory);
    durabilityTests(factory);
    leaseTests(factory);
    ownershipTests(factory);
    metaTests(factory);
    partyLifecycleTests(factory);
    walletIndexTests(factory);
    historyTests(factory);
  });
}

function metaTests(f: StoreFactory): void {
  test('meta: create-if-absent, 20 concurrent writers agree on one value, survives restart', () =>
    withStore(f, async (t) => {
      assert.equal(await t.store.getMeta('absent'), undefined);
      const values = Array.from({ length: 20 }, (_, i) => `value-${i}`);
      const stored = await Promise.all(values.map((v) => t.store.putMetaIfAbsent('identity', v)));
      const winner = stored[0]!;
      assert.ok(values.includes(winner));
      assert.ok(
        stored.every((v) => v === winner),
        'every writer sees the same value',
      );
      assert.equal(await t.store.putMetaIfAbsent('identity', 'later'), winner);
      assert.equal(await t.store.getMeta('identity'), winner);
      const again = await t.restart();
      assert.equal(await again.getMeta('identity'), winner);
      await again.close();
    }));
}

function casTests(f: StoreFactory): void {
  test('CAS succeeds once per version; the version (fencing token) strictly increases', () =>
    withStore(f, async ({ store }) => {
      const created = await store.createSession(session({ sessionId: 's1' }));
      assert.equal(created.created, true);
      assert.equal(created.session.version, 1);
      const v2 = await store.casSession('s1', 1, { ...created.session.value, status: 'running' });
      assert.equal(v2.version, 2);
      await assert.rejects(store.casSession('s1', 1, created.session.value), isStale());
      const v3 = await store.casSession('s1', 2, {
        ...v2.value,
        status: 'signed',
        signature: 'ab',
      });
      assert.equal(v3.version, 3);
      assert.equal((await store.getSession('s1'))?.value.signature, 'ab');
      await assert.rejects(store.casSession('nope', 1, v3.value), isStale('version-moved'));
    }));

  test('property: the token is 1 + successful CAS count; a stale CAS never writes', () =>
    withStore(f, async ({ store }) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: -2, max: 1 }), { minLength: 1, maxLength: 8 }),
          async (offsets) => {
            const s = (await store.createSession(session())).session;
            let version = 1;
            for (const [i, offset] of offsets.entries()) {
              const expected = version + (offset === 1 ? 0 : offset);
              const next = { ...s.value, slow: [`write-${i}`] };
              if (expected === version) {
                const written = await store.casSession(s.value.sessionId, expected, next);
                assert.equal(written.version, version + 1);
                version = written.version;
              } else {
                await assert.rejects(
                  store.casSession(s.value.sessionId, expected, next),
                  isStale(),
                );
              }
              const read = await store.getSession(s.value.sessionId);
              assert.equal(read?.version, version);
            }
          },
        ),
        { numRuns: f.propertyRuns },
      );
    }));

  test('20 concurrent CAS writers on one version: exactly one wins, the rest are stale', () =>
    withStore(f, async ({ store }) => {
      const s = (await store.createSession(session())).session;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          store.casSession(s.value.sessionId, 1, { ...s.value, signature: `sig-${i}` }),
        ),
      );
      const winners = outcomes.filter((o) => o.status === 'fulfilled');
      assert.equal(winners.length, 1);
      for (const o of outcomes) if (o.status === 'rejected') assert.ok(isStale()(o.reason));
      const stored = await store.getSession(s.value.sessionId);
      assert.equal(stored?.version, 2);
      assert.equal(stored?.value.signature, winners[0]!.value.value.signature);
    }));
}

function intentTests(f: StoreFactory): void {
  test('intent lock: 20 concurrent writers, exactly one session created', () =>
    withStore(f, async ({ store }) => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.createSession(
            session({ sessionId: `race-${i}`, intentKey: 'same', messageHash: `m${i}` }),
          ),
        ),
      );
      const winners = results.filter((r) => r.created);
      assert.equal(winners.length, 1);
      const winner = winners[0]!.session.value;
      for (const r of results) {
        assert.equal(r.session.value.sessionId, winner.sessionId);
        assert.equal(r.session.value.messageHash, winner.messageHash);
        assert.equal(r.session.version, 1);
      }
      assert.equal((await store.listSessions(100)).length, 1);
      const other = await store.createSession(session({ walletId: 'w2', intentKey: 'same' }));
      assert.equal(other.created, true, 'the lock is per wallet');
    }));
}

function durabilityTests(f: StoreFactory): void {
  test('crash/restart keeps sessions, versions, parties and intent locks; lists order by creation', () =>
    withStore(f, async (t) => {
      const { store } = t;
      await store.createSession(session({ sessionId: 'a', intentKey: 'k-a' }, 1));
      const b = await store.createSession(session({ sessionId: 'b', intentKey: 'k-b' }, 2));
      await store.createSession(session({ sessionId: 'c', intentKey: 'k-c' }, 3));
      await store.casSession('b', b.session.version, { ...b.session.value, status: 'failed' });
      await store.pinParty({ partyId: 'p', identityKey: 'aa', boxKey: 'bb', enrolledMs: 1 });
      const repin = { partyId: 'p', identityKey: 'cc', boxKey: 'dd', enrolledMs: 2 };
      assert.equal((await store.pinParty(repin)).identityKey, 'aa');
      const again = await t.restart();
      const ids = async (list: Promise<{ value: SessionRecord }[]>) =>
        (await list).map((s) => s.value.sessionId);
      assert.deepEqual(await ids(again.listActiveSessions(10)), ['a', 'c']);
      assert.deepEqual(await ids(again.listActiveSessions(1)), ['a']);
      assert.deepEqual(await ids(again.listSessions(10)), ['c', 'b', 'a']);
      assert.deepEqual(await ids(again.listSessions(0)), []);
      assert.equal((await again.getSession('b'))?.version, 2);
      assert.equal((await again.getParty('p'))?.identityKey, 'aa');
      assert.deepEqual(
        (await again.listParties()).map((p) => p.partyId),
        ['p'],
      );
      const relock = await again.createSession(session({ sessionId: 'a2', intentKey: 'k-a' }));
      assert.equal(relock.created, false);
      assert.equal(relock.session.value.sessionId, 'a');
      const v3 = await again.casSession('b', 2, { ...b.session.value, status: 'failed' });
      assert.equal(v3.version, 3, 'the token keeps increasing across a restart');
      await again.close();
    }));

  test('wallets are create-only; evidence is stored per session in order', () =>
    withStore(f, async ({ store }) => {
      const w = {
        walletId: 'w1',
        scheme: 'bip340' as const,
        threshold: 2,
        parties: ['a', 'b'],
        publicKey: 'pk',
        publicPackage: {},
        createdMs: 1,
      };
      assert.equal(await store.createWallet(w), true);
      assert.equal(await store.createWallet({ ...w, publicKey: 'other' }), false);
      await store.createWallet({ ...w, walletId: 'w3' });
      assert.equal(await store.countWallets(10), 2, 'a refused create is not counted');
      assert.equal(await store.countWallets(1), 1, 'counted up to the limit');
      assert.equal(await store.countWallets(0), 0);
      assert.equal((await store.getWallet('w1'))?.publicKey, 'pk');
      assert.equal(await store.getWallet('w2'), undefined);
      // replaceWallet: a compare-and-set on the revision; a loser writes nothing.
      const flipped = { ...w, epoch: 1, threshold: 1, revision: 1 };
      assert.equal(await store.replaceWallet(flipped, 0), true);
      assert.equal(await store.replaceWallet({ ...w, epoch: 7, revision: 1 }, 0), false);
      assert.equal(await store.replaceWallet({ ...w, walletId: 'w2', revision: 1 }, 0), false);
      assert.deepEqual(await store.getWallet('w1'), flipped);
      assert.equal(await store.replaceWallet({ ...flipped, epoch: 2, revision: 2 }, 1), true);
      assert.equal((await store.getWallet('w1'))?.epoch, 2);
      for (const partyId of ['b', 'a']) {
        await store.putEvidence({
          sessionId: 's',
          attempt: 1,
          partyId,
          reason: 'bad share',
          evidence: { share: '00' },
          recordedMs: 1,
        });
      }
      assert.deepEqual(
        (await store.listEvidence('s')).map((e) => e.partyId),
        ['b', 'a'],
      );
      assert.deepEqual(await store.listEvidence('other'), []);
    }));
}

function leaseTests(f: StoreFactory): void {
  test('leases: renewal extends a live lease; expiry without renewal is final', () =>
    withStore(f, async ({ store, elapse }) => {
      const lease = await store.acquireLease('replica-a', ttlMs);
      assert.equal(lease.ownerId, 'replica-a');
      assert.ok(lease.ttlMs >= ttlMs);
      await elapse(ttlMs * 0.6);
      assert.ok(await store.renewLease(lease), 'live after 0.6 ttl');
      await elapse(ttlMs * 0.6);
      assert.ok(await store.renewLease(lease), 'renewal restarted the ttl');
      const other = await store.acquireLease('replica-b', ttlMs);
      assert.notEqual(other.leaseId, lease.leaseId);
      await elapse(ttlMs + f.leaseSlackMs);
      assert.equal(await store.renewLease(lease), undefined, 'expired');
      assert.equal(await store.renewLease(lease), undefined, 'and never comes back');
      await store.revokeLease(lease); // harmless on an expired lease
    }));
}

/** Two live replicas, a and b, and a new session owned by a. */
async function ownedByA(store: Store) {
  const a = await store.acquireLease('replica-a', ttlMs);
  const b = await store.acquireLease('replica-b', ttlMs);
  const created = await store.createSession(session(), { lease: a });
  return { a, b, created, id: created.session.value.sessionId };
}

async function expiredLease(t: StoreUnderTest, f: StoreFactory, ownerId: string): Promise<Lease> {
  const lease = await t.store.acquireLease(ownerId, ttlMs);
  await t.elapse(ttlMs + f.leaseSlackMs);
  return lease;
}

function ownershipTests(f: StoreFactory): void {
  test('ownership: a live owner keeps its session; after expiry a takeover bumps the token and fences the old owner', () =>
    withStore(f, async (t) => {
      const { store } = t;
      const a = await store.acquireLease('replica-a', ttlMs);
      const created = await store.createSession(session(), { lease: a });
      const id = created.session.value.sessionId;
      assert.deepEqual(created.session.value.owner, { ownerId: 'replica-a', leaseId: a.leaseId });
      const early = await store.acquireLease('replica-b', ttlMs);
      assert.equal((await store.claimSession(id, 1, early)).claimed, false);
      assert.deepEqual(await store.claimSession(id, 1, early), {
        claimed: false,
        reason: 'owned',
        session: (await store.getSession(id))!,
      });
      const { owner: _o, ...unowned } = created.session.value;
      const v2 = await store.casSession(id, 1, { ...unowned, status: 'running' }, { lease: a });
      assert.equal(v2.version, 2);
      assert.equal(v2.value.owner?.leaseId, a.leaseId, 'casSession keeps the stored owner');
      await assert.rejects(
        store.casSession(id, 2, v2.value, { lease: early }),
        isStale('not-owner'),
      );
      await t.elapse(ttlMs + f.leaseSlackMs); // a (and early) expire unrenewed
      await assert.rejects(
        store.casSession(id, 2, v2.value, { lease: a }),
        isStale('lease-expired'),
      );
      assert.equal((await store.getSession(id))?.version, 2, 'the fenced write changed nothing');
      const b = await store.acquireLease('replica-b', ttlMs);
      const claim = await store.claimSession(id, 2, b);
      assert.equal(claim.claimed, true);
      assert.equal(claim.session?.version, 3, 'takeover token above every old-owner token');
      assert.deepEqual(claim.session?.value.owner, { ownerId: 'replica-b', leaseId: b.leaseId });
      await assert.rejects(
        store.casSession(id, 2, v2.value, { lease: a }),
        isStale('version-moved'),
      );
      await assert.rejects(store.casSession(id, 3, v2.value, { lease: a }), isStale('not-owner'));
      assert.equal((await store.claimSession(id, 3, a)).claimed, false);
      assert.equal(outcomeOf(await store.claimSession(id, 3, a)), 'lease-expired');
      const v4 = await store.casSession(id, 3, { ...v2.value, status: 'signed' }, { lease: b });
      assert.equal(v4.version, 4);
      assert.equal(v4.value.owner?.ownerId, 'replica-b');
    }));

  test('ownership: createSession under an expired lease writes nothing; revoke frees at once; claim refusals', () =>
    withStore(f, async (t) => {
      const { store } = t;
      const dead = await expiredLease(t, f, 'replica-a');
      const record = session();
      await assert.rejects(
        store.createSession(record, { lease: dead }),
        (e: unknown) =>
          e instanceof QuorateError &&
          e.code === 'QUORATE_E_STORE_UNAVAILABLE' &&
          e.retryable &&
          e.detail['reason'] === 'lease-expired',
      );
      assert.equal(await store.getSession(record.sessionId), undefined);
      const plain = await store.createSession(record);
      assert.equal(plain.created, true, 'the intent lock was not taken');
      assert.equal(plain.session.value.owner, undefined);
      const a = await store.acquireLease('replica-a', ttlMs);
      const b = await store.acquireLease('replica-b', ttlMs);
      const id = record.sessionId;
      assert.equal((await store.claimSession(id, 1, a)).claimed, true, 'an unowned session');
      assert.equal(outcomeOf(await store.claimSession(id, 1, b)), 'version-moved');
      assert.equal(outcomeOf(await store.claimSession(id, 2, b)), 'owned');
      assert.deepEqual(await store.claimSession('missing', 1, b), {
        claimed: false,
        reason: 'not-found',
      });
      const reclaim = await store.claimSession(id, 2, a);
      assert.equal(reclaim.session?.version, 3, 'the owner may re-claim (a new attempt)');
      await store.revokeLease(a);
      assert.equal(await store.renewLease(a), undefined);
      assert.equal((await store.claimSession(id, 3, b)).claimed, true, 'revoked: free at once');
    }));

  test('ownership: a failed session can be claimed from a live owner (a retry reopens it); a running or signed one cannot', () =>
    withStore(f, async (t) => {
      const { store } = t;
      const { a, b, created, id } = await ownedByA(store);
      assert.equal(outcomeOf(await store.claimSession(id, 1, b)), 'owned', 'running: owned');
      const failed: SessionRecord = { ...created.session.value, status: 'failed' };
      await store.casSession(id, 1, failed, { lease: a });
      const claim = await store.claimSession(id, 2, b);
      assert.equal(claim.claimed, true, 'a terminal session is free to a retry');
      assert.equal(claim.session?.version, 3);
      assert.equal(claim.session?.value.owner?.leaseId, b.leaseId);
      const reopened: SessionRecord = { ...failed, status: 'pending' };
      await assert.rejects(store.casSession(id, 3, reopened, { lease: a }), isStale());
      const v = await store.casSession(id, 3, reopened, { lease: b });
      assert.equal(v.version, 4);
      assert.equal(
        (await store.listActiveSessions(10)).some((s) => s.value.sessionId === id),
        true,
        'reopened: active again',
      );
      assert.equal(outcomeOf(await store.claimSession(id, 4, a)), 'owned', 'reopened: owned');
      const signed: SessionRecord = { ...reopened, status: 'signed', signature: 'ab' };
      await store.casSession(id, 4, signed, { lease: b });
      assert.equal(outcomeOf(await store.claimSession(id, 5, a)), 'owned', 'signed: never claimed');
    }));

  test('ownership: a session waiting for approvals can be claimed from a live owner for an approval, never by a scan; once signing it cannot', () =>
    withStore(f, async (t) => {
      const { store } = t;
      const { a, b, created, id } = await ownedByA(store);
      const approving: SessionRecord = {
        ...created.session.value,
        pendingReason: 'awaiting approvals: 1 more of 1 approvals for rule r',
      };
      await store.casSession(id, 1, approving, { lease: a });
      assert.equal(
        outcomeOf(await store.claimSession(id, 2, b)),
        'owned',
        'a takeover scan never claims it from a live owner',
      );
      const claim = await store.claimSession(id, 2, b, { forApproval: true });
      assert.equal(
        claim.claimed,
        true,
        'no attempt in flight: the replica of the approval takes it',
      );
      assert.equal(claim.session?.value.owner?.leaseId, b.leaseId);
      await assert.rejects(store.casSession(id, 3, approving, { lease: a }), isStale());
      const signing: SessionRecord = {
        ...approving,
        status: 'running',
        attempts: [{ attempt: 1, token: 4, parties: ['p1'], outcome: 'running', startedMs: 1 }],
      };
      delete signing.pendingReason;
      await store.casSession(id, 3, signing, { lease: b });
      assert.equal(
        outcomeOf(await store.claimSession(id, 4, a, { forApproval: true })),
        'owned',
        'signing: owned, even for an approval',
      );
    }));

  test('20 concurrent claimers after the owner expired: exactly one wins', () =>
    withStore(f, async (t) => {
      const { store } = t;
      const dead = await store.acquireLease('replica-dead', ttlMs);
      const created = await store.createSession(session(), { lease: dead });
      const id = created.session.value.sessionId;
      await t.elapse(ttlMs + f.leaseSlackMs);
      const leases = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.acquireLease(`replica-${i}`, ttlMs)),
      );
      const results = await Promise.all(leases.map((l) => store.claimSession(id, 1, l)));
      const winners = results.filter((r) => r.claimed);
      assert.equal(winners.length, 1);
      for (const r of results) if (!r.claimed) assert.equal(r.reason, 'version-moved');
      const stored = await store.getSession(id);
      assert.equal(stored?.version, 2);
      assert.deepEqual(stored?.value.owner, winners[0]!.session.value.owner);
    }));

  test('crash/restart keeps leases and owners: the owner renews and writes on the reopened store', () =>
    withStore(f, async (t) => {
      const lease = await t.store.acquireLease('replica-a', limits.storeLeaseTtlMsMax);
      const created = await t.store.createSession(session(), { lease });
      const id = created.session.value.sessionId;
      const again = await t.restart();
      const stored = await again.getSession(id);
      assert.ok(stored);
      assert.equal(stored.value.owner?.leaseId, lease.leaseId);
      assert.ok(await again.renewLease(lease), 'the lease survived the restart');
      const v2 = await again.casSession(id, 1, stored.value, { lease });
      assert.equal(v2.version, 2);
      const rival = await again.acquireLease('replica-b', ttlMs);
      assert.equal(outcomeOf(await again.claimSession(id, 2, rival)), 'owned');
      await again.close();
    }));
}

/** A party record with keys derived from `tag`, so two records of one party differ. */
const party = (partyId: string, tag: string, enrolledMs = 1): PartyRecord => ({
  partyId,
  identityKey: `id-${tag}`,
  boxKey: `box-${tag}`,
  enrolledMs,
});

/** An invitation for `partyId` with MAC key `macKey`, valid from 10 to 1 000. */
const invitation = (partyId: string, macKey: string, rotate = false): PartyInvitation => ({
  partyId,
  macKey,
  issuedMs: 10,
  expiresMs: 1_000,
  rotate,
});

function partyLifecycleTests(f: StoreFactory): void {
  test('invitations: put replaces per party, redeem is one-time and exact, survives restart', () =>
    withStore(f, async (t) => {
      const { store } = t;
      assert.equal(await store.getInvitation('p1'), undefined);
      await store.putInvitation(invitation('p1', 'mac-old'));
      await store.putInvitation(invitation('p1', 'mac-1'));
      assert.deepEqual(await store.getInvitation('p1'), invitation('p1', 'mac-1'));
      assert.equal(await store.redeemInvitation('mac-old', party('p1', 'a')), undefined);
      assert.equal(await store.redeemInvitation('MAC-1', party('p1', 'a')), undefined, 'exact');
      assert.equal(await store.redeemInvitation('mac-1', party('p2', 'a')), undefined, 'per id');
      assert.equal(await store.getParty('p1'), undefined, 'a refused redeem wrote nothing');
      await store.putInvitation(invitation('p2', 'mac-2'));
      const again = await t.restart();
      assert.deepEqual(await again.getInvitation('p2'), invitation('p2', 'mac-2'));
      assert.deepEqual(await again.redeemInvitation('mac-1', party('p1', 'a')), party('p1', 'a'));
      assert.equal(await again.getInvitation('p1'), undefined, 'spent');
      assert.deepEqual(await again.getParty('p1'), party('p1', 'a'));
      assert.equal(await again.redeemInvitation('mac-1', party('p1', 'b')), undefined, 'once');
      assert.deepEqual(await again.getParty('p1'), party('p1', 'a'));
      await again.close();
    }));

  test('redeem: an existing pin wins unless the invitation rotates or the pin is revoked', () =>
    withStore(f, async ({ store }) => {
      await store.pinParty(party('p', 'a'));
      await store.putInvitation(invitation('p', 'plain'));
      assert.deepEqual(await store.redeemInvitation('plain', party('p', 'b')), party('p', 'a'));
      assert.equal(await store.getInvitation('p'), undefined, 'spent even though the pin won');
      assert.deepEqual(await store.getParty('p'), party('p', 'a'));
      await store.putInvitation(invitation('p', 'rotate', true));
      assert.deepEqual(await store.redeemInvitation('rotate', party('p', 'c')), party('p', 'c'));
      assert.deepEqual(await store.getParty('p'), party('p', 'c'), 'rotated');
      const revoked = { ...party('p', 'c'), revokedMs: 50 };
      await store.putParty(revoked);
      assert.deepEqual(await store.getParty('p'), revoked);
      assert.deepEqual(await store.pinParty(party('p', 'x')), revoked, 'pinParty never unrevokes');
      await store.putInvitation(invitation('p', 'again'));
      assert.deepEqual(await store.redeemInvitation('again', party('p', 'd')), party('p', 'd'));
      assert.equal((await store.getParty('p'))?.revokedMs, undefined, 're-enrolled');
    }));

  test('deleteParty removes the pin and its invitation; putParty upserts', () =>
    withStore(f, async ({ store }) => {
      assert.equal(await store.deleteParty('p'), false);
      await store.putParty(party('p', 'a'));
      await store.putParty(party('p', 'b', 2));
      assert.deepEqual(await store.getParty('p'), party('p', 'b', 2));
      await store.putInvitation(invitation('p', 'mac'));
      await store.putInvitation(invitation('q', 'mac-q'));
      assert.equal(await store.deleteParty('p'), true);
      assert.equal(await store.getParty('p'), undefined);
      assert.equal(await store.getInvitation('p'), undefined);
      assert.equal(await store.redeemInvitation('mac', party('p', 'c')), undefined);
      assert.equal(await store.deleteParty('p'), false);
      assert.equal(await store.deleteParty('q'), false, 'an invitation alone is not a pin');
      assert.equal(await store.getInvitation('q'), undefined, 'but it is removed');
      assert.deepEqual(await store.listParties(), []);
      const pin = await store.pinParty(party('p', 'e'));
      assert.deepEqual(pin, party('p', 'e'), 'an unpinned id can be pinned afresh');
    }));

  test('putInvitation drops the invitations expired by its issue time, and only those', () =>
    withStore(f, async ({ store }) => {
      await store.putInvitation(invitation('old', 'mac-old'));
      await store.putInvitation({ ...invitation('live', 'mac-live'), expiresMs: 5_000 });
      await store.putInvitation({ ...invitation('new', 'mac-new'), issuedMs: 1_000 });
      assert.equal(await store.getInvitation('old'), undefined, 'expired at 1 000');
      assert.equal((await store.getInvitation('live'))?.macKey, 'mac-live');
      assert.equal((await store.getInvitation('new'))?.macKey, 'mac-new');
    }));

  test('redeem: 20 concurrent redeemers of one invitation, exactly one pins', () =>
    withStore(f, async ({ store }) => {
      await store.putInvitation(invitation('p', 'mac'));
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.redeemInvitation('mac', party('p', `k${i}`))),
      );
      const winners = results.filter((r) => r !== undefined);
      assert.equal(winners.length, 1);
      assert.deepEqual(await store.getParty('p'), winners[0]);
    }));
}

/** Session ids, sorted (the order within one counted time is the store's). */
const idsOf = (sessions: readonly SessionRecord[]): string[] =>
  sessions.map((s) => s.sessionId).sort();

function walletIndexTests(f: StoreFactory): void {
  test('wallet index: per wallet, by counted time, any status; bounded with completeness', () =>
    withStore(f, async (t) => {
      const { store } = t;
      for (const [id, walletId, ms] of [
        ['a1', 'wa', 100],
        ['a2', 'wa', 200],
        ['a3', 'wa', 300],
        ['b1', 'wb', 250],
      ] as const) {
        await store.createSession(session({ sessionId: id, walletId }, ms));
      }
      const failed = (await store.getSession('a3'))!;
      await store.casSession('a3', failed.version, { ...failed.value, status: 'failed' });
      const all = await store.listWalletSessions('wa', 0, 10);
      assert.deepEqual(
        all.sessions.map((s) => s.sessionId),
        ['a1', 'a2', 'a3'],
        'oldest first',
      );
      assert.equal(all.complete, true);
      assert.equal(all.sessions[2]?.status, 'failed');
      const recent = await store.listWalletSessions('wa', 200, 10);
      assert.deepEqual(idsOf(recent.sessions), ['a2', 'a3'], 'since is inclusive');
      assert.deepEqual(idsOf((await store.listWalletSessions('wb', 0, 10)).sessions), ['b1']);
      assert.deepEqual(await store.listWalletSessions('none', 0, 10), {
        sessions: [],
        complete: true,
      });
      const exact = await store.listWalletSessions('wa', 150, 2);
      assert.deepEqual([idsOf(exact.sessions), exact.complete], [['a2', 'a3'], true]);
      const short = await store.listWalletSessions('wa', 150, 1);
      assert.equal(short.complete, false, 'more than the limit: not a count');
      assert.equal(short.sessions.length, 1);
      const none = await store.listWalletSessions('wa', 0, 0);
      assert.deepEqual([none.sessions.length, none.complete], [0, false]);
      const again = await t.restart();
      assert.deepEqual(idsOf((await again.listWalletSessions('wa', 150, 10)).sessions), [
        'a2',
        'a3',
      ]);
      await again.close();
    }));

  test('wallet index: a retry that moves the counted time moves the entry with the write', () =>
    withStore(f, async (t) => {
      const { store } = t;
      const created = await store.createSession(session({ sessionId: 'r', walletId: 'wr' }, 100));
      await store.createSession(session({ sessionId: 'q', walletId: 'wr' }, 500));
      const failed = await store.casSession('r', 1, { ...created.session.value, status: 'failed' });
      const retry = {
        count: 1,
        fromAttempt: 1,
        lastMs: 900,
        previousError: { code: 'QUORATE_E_DEADLINE_EXCEEDED' as const },
      };
      await store.casSession('r', failed.version, { ...failed.value, status: 'pending', retry });
      const later = await store.listWalletSessions('wr', 600, 10);
      assert.deepEqual(idsOf(later.sessions), ['r'], 'counted at its retry, not its creation');
      assert.equal(later.sessions[0]?.retry?.lastMs, 900);
      const all = await store.listWalletSessions('wr', 0, 10);
      assert.deepEqual(
        all.sessions.map((s) => s.sessionId),
        ['q', 'r'],
        'one entry per session: the old one is gone',
      );
      const again = await t.restart();
      const claimer = await again.acquireLease('replica-a', ttlMs);
      assert.equal((await again.claimSession('r', 3, claimer)).claimed, true);
      assert.deepEqual(idsOf((await again.listWalletSessions('wr', 600, 10)).sessions), ['r']);
      await again.close();
    }));
}
