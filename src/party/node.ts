/** Boots a party process: keystore, identity, journal, runtime, outbound connections. */
import { bytesToHex } from '@noble/hashes/utils.js';
import { join } from 'node:path';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { isPartyId } from '../core/ids.ts';
import { generateIdentity, identityFromSecrets, type IdentityKeys } from '../transport/identity.ts';
import { partyWsPath, type Link } from '../transport/link.ts';
import type { HeartbeatClass } from '../transport/wire.ts';
import type { PartyEngine, Scheme } from '../protocol/engine.ts';
import { SqliteJournal } from './journal-sqlite.ts';
import { Keystore } from '../store/keystore.ts';
import { secureDataDir, tightenDataDir } from '../store/data-dir.ts';
import { certificateProblem } from '../transport/certificate.ts';
import { PartyRuntime, type PartyTrust } from './runtime.ts';
import { ReconnectingClient } from './ws-client.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';

/** Options of `quorate party`. */
export interface PartyNodeOptions {
  partyId: string;
  coordinatorUrl: string;
  dataDir: string;
  passphrase: string;
  partySecret?: string;
  /** One-time enrolment token for this party id (see `PartyOptions.enrolToken`). */
  enrolToken?: string;
  /** The coordinator identity key (64 hex) to require instead of trusting the first one seen. */
  coordinatorKey?: string;
  /** The operator key and this party's certificate; checked against the identity at start. */
  trust?: PartyTrust;
  /** For `wss://` coordinators: the CA or self-signed certificate (PEM) to trust. */
  tlsCa?: string;
  policy?: LoadedPolicy;
  /** With a policy: also hold shares of wallets without a tier (see `PartyOptions`). */
  allowUngoverned?: boolean;
  /** Engines by scheme (default: FROST); see `PartyOptions.engines`. */
  engines?: Partial<Record<Scheme, PartyEngine>>;
  /** Applied to every link the reconnecting clients open (a harness wraps links with faults). */
  wrapLink?: (link: Link) => Link;
  /** Heartbeat class announced to the coordinator (`--heartbeat-ms`); absent: its interval. */
  heartbeatMs?: HeartbeatClass;
}

/** A running party. */
export interface PartyNode {
  runtime: PartyRuntime;
  stop(): void;
}

/** Loads (or creates, sealed) the identity keys of this data directory. */
export function loadIdentity(keystore: Keystore, journal: SqliteJournal, env: Env): IdentityKeys {
  const sealed = journal.getMeta('identity');
  if (sealed !== undefined) {
    const raw = keystore.open('identity', sealed);
    return identityFromSecrets(raw.slice(0, 32), raw.slice(32, 64));
  }
  const identity = generateIdentity(env.randomBytes(64));
  const secrets = new Uint8Array(64);
  secrets.set(identity.signSecret, 0);
  secrets.set(identity.boxSecret, 32);
  journal.setMeta('identity', keystore.seal('identity', secrets));
  secrets.fill(0);
  return identity;
}

/**
 * `QUORATE_E_CONFIG` unless the certificate in `trust` is this party's: its id, identity and
 * box keys, signed by the operator key the party pins. A party that presented someone else's
 * certificate would be refused by every peer at key generation; say so at start instead.
 */
function checkOwnCertificate(partyId: string, identity: IdentityKeys, trust: PartyTrust): void {
  const problem = certificateProblem(trust.certificate, trust.operatorKey, {
    partyId,
    identityKey: bytesToHex(identity.signPublic),
    boxKey: bytesToHex(identity.boxPublic),
  });
  if (problem !== undefined) {
    throw new QuorateError('QUORATE_E_CONFIG', `--certificate: ${problem}`, { partyId });
  }
}

/** The WebSocket URL of every coordinator replica in `--coordinator` (`ws://a,wss://b`). */
function coordinatorUrls(coordinatorUrl: string): string[] {
  const urls = coordinatorUrl
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter((u) => u.length > 0)
    .map((u) => (u.endsWith(partyWsPath) ? u : `${u}${partyWsPath}`));
  if (urls.length === 0 || urls.some((u) => !/^wss?:\/\//.test(u))) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      '--coordinator must be ws:// or wss:// URLs, comma separated',
      { coordinator: coordinatorUrl },
    );
  }
  return urls;
}

/** The runtime's options that come straight from the node's options, when present. */
function optionalRuntimeOptions(options: PartyNodeOptions) {
  return {
    ...(options.partySecret === undefined ? {} : { partySecret: options.partySecret }),
    ...(options.enrolToken === undefined ? {} : { enrolToken: options.enrolToken }),
    ...(options.coordinatorKey === undefined ? {} : { coordinatorKey: options.coordinatorKey }),
    ...(options.trust === undefined ? {} : { trust: options.trust }),
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    ...(options.allowUngoverned === true ? { allowUngoverned: true } : {}),
    ...(options.engines === undefined ? {} : { engines: options.engines }),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
  };
}

/** Opens (creating if needed) the party's identity in `dataDir`, as `quorate party` does. */
export function openPartyIdentity(
  env: Env,
  dataDir: string,
  passphrase: string,
): { identity: IdentityKeys; journal: SqliteJournal; keystore: Keystore } {
  // The directory holds the sealed identity and the journal: owner only, checked every start.
  secureDataDir(dataDir);
  const keystore = Keystore.open(dataDir, passphrase, env.randomBytes);
  const journal = new SqliteJournal(join(dataDir, 'journal.sqlite'), env.nowMs());
  try {
    const identity = loadIdentity(keystore, journal, env);
    tightenDataDir(dataDir);
    return { identity, journal, keystore };
  } catch (error) {
    journal.close();
    throw error;
  }
}

/** Starts a party. */
export function startPartyNode(env: Env, options: PartyNodeOptions): PartyNode {
  if (!isPartyId(options.partyId)) {
    throw new QuorateError('QUORATE_E_CONFIG', 'party id must match [a-z0-9][a-z0-9._-]{0,63}', {
      partyId: options.partyId,
    });
  }
  const urls = coordinatorUrls(options.coordinatorUrl);
  const { identity, journal, keystore } = openPartyIdentity(
    env,
    options.dataDir,
    options.passphrase,
  );
  try {
    if (options.trust !== undefined) checkOwnCertificate(options.partyId, identity, options.trust);
  } catch (error) {
    journal.close();
    throw error;
  }
  if (options.policy) env.log.info({ policyHash: options.policy.policyHash }, 'policy loaded');
  env.log.info(
    { partyId: options.partyId, identityKey: bytesToHex(identity.signPublic) },
    'party identity loaded',
  );
  const runtime = new PartyRuntime({
    partyId: options.partyId,
    env,
    journal,
    sealer: keystore,
    identity,
    ...optionalRuntimeOptions(options),
  });
  const wrapLink = options.wrapLink ?? ((link: Link) => link);
  const dial = options.tlsCa === undefined ? {} : { ca: options.tlsCa };
  // One outbound connection per coordinator replica.
  // The backoff starts over once a connection is accepted (the coordinator proved its key),
  // never merely because a socket opened (issue 12 finding 7).
  const clients: ReconnectingClient[] = urls.map(
    (url, i) =>
      new ReconnectingClient(
        env,
        url,
        (link) => runtime.attach(link, () => clients[i]?.accepted()),
        wrapLink,
        dial,
      ),
  );
  for (const client of clients) client.start();
  return {
    runtime,
    stop() {
      for (const client of clients) client.stop();
      runtime.close();
      journal.close();
    },
  };
}
