/** Boots a party process: keystore, identity, journal, runtime, outbound connections. */
import { bytesToHex } from '@noble/hashes/utils.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { isPartyId } from '../core/ids.ts';
import { generateIdentity, identityFromSecrets, type IdentityKeys } from '../transport/identity.ts';
import { partyWsPath, type Link } from '../transport/link.ts';
import type { PartyEngine, Scheme } from '../protocol/engine.ts';
import { SqliteJournal } from './journal-sqlite.ts';
import { Keystore } from '../store/keystore.ts';
import { PartyRuntime } from './runtime.ts';
import { ReconnectingClient } from './ws-client.ts';
import type { LoadedPolicy } from '../policy/rules/index.ts';

/** Options of `quorate party`. */
export interface PartyNodeOptions {
  partyId: string;
  coordinatorUrl: string;
  dataDir: string;
  passphrase: string;
  partySecret?: string;
  policy?: LoadedPolicy;
  /** Engines by scheme (default: FROST); see `PartyOptions.engines`. */
  engines?: Partial<Record<Scheme, PartyEngine>>;
  /** Applied to every link the reconnecting clients open (a harness wraps links with faults). */
  wrapLink?: (link: Link) => Link;
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

/** Starts a party. */
export function startPartyNode(env: Env, options: PartyNodeOptions): PartyNode {
  if (!isPartyId(options.partyId)) {
    throw new QuorateError('QUORATE_E_CONFIG', 'party id must match [a-z0-9][a-z0-9._-]{0,63}', {
      partyId: options.partyId,
    });
  }
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const keystore = Keystore.open(options.dataDir, options.passphrase, env.randomBytes);
  const journal = new SqliteJournal(join(options.dataDir, 'journal.sqlite'), env.nowMs());
  const identity = loadIdentity(keystore, journal, env);
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
    ...(options.partySecret === undefined ? {} : { partySecret: options.partySecret }),
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    ...(options.engines === undefined ? {} : { engines: options.engines }),
  });
  // One outbound connection per coordinator replica (`ws://a,ws://b`).
  const urls = options.coordinatorUrl
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter((u) => u.length > 0)
    .map((u) => (u.endsWith(partyWsPath) ? u : `${u}${partyWsPath}`));
  if (urls.length === 0 || urls.some((u) => !/^wss?:\/\//.test(u))) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      '--coordinator must be ws:// or wss:// URLs, comma separated',
      {
        coordinator: options.coordinatorUrl,
      },
    );
  }
  const wrapLink = options.wrapLink ?? ((link: Link) => link);
  const clients = urls.map(
    (url) => new ReconnectingClient(env, url, (link) => runtime.attach(link), wrapLink),
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
