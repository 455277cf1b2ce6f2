/**
 * `quorate party`: parses flags (each also read from its environment variable), starts the party
 * node that dials the coordinator(s), and stops on SIGINT/SIGTERM. `quorate party identity`
 * creates or opens the party's identity and prints it for the operator to certify.
 */
import { startDkls23Worker } from '../party/dkls23-worker-protocol.ts';
import { ecdsaPartyEngine } from '../protocol/ecdsa.ts';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { parseArgs } from 'node:util';
import { realEnv, type Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { isPartyId } from '../core/ids.ts';
import { limits } from '../core/limits.ts';
import { openPartyIdentity, startPartyNode, type PartyNodeOptions } from '../party/node.ts';
import type { PartyTrust } from '../party/runtime.ts';
import { parseCertificate } from '../transport/certificate.ts';
import { isHeartbeatClass, type HeartbeatClass } from '../transport/wire.ts';
import { checkCertificatePem } from '../transport/tls.ts';
import {
  keyOption,
  logLevel,
  opt,
  partySecretOption,
  pemOption,
  readBoundedFile,
  required,
  waitForSignal,
  type ProcessAdapter,
} from './command-options.ts';
import { loadPolicyOption } from './policy-option.ts';

/**
 * What an entry that runs this command inside a harness changes about the party process: the
 * Env, a wrapper for its links, and (test-only entries) the signature engines it runs.
 */
export interface PartyProcessAdapter extends ProcessAdapter {
  engines?: PartyNodeOptions['engines'];
  /** Test-only: wraps every engine the process runs, its ecdsa engine included. */
  wrapEngines?: (engines: NonNullable<PartyNodeOptions['engines']>) => PartyNodeOptions['engines'];
}

const partyFlags = {
  id: { type: 'string' },
  coordinator: { type: 'string' },
  data: { type: 'string' },
  'party-secret': { type: 'string' },
  'enrol-token': { type: 'string' },
  'coordinator-key': { type: 'string' },
  'operator-key': { type: 'string' },
  certificate: { type: 'string' },
  'tls-ca': { type: 'string' },
  policy: { type: 'string' },
  'allow-ungoverned': { type: 'boolean' },
  'heartbeat-ms': { type: 'string' },
} as const;

/**
 * `--operator-key HEX --certificate FILE` (QUORATE_OPERATOR_KEY, QUORATE_CERTIFICATE): both or
 * neither; the certificate's shape is checked here, and that it is this party's and verifies
 * under the operator key once the identity is loaded (src/party/node.ts).
 */
async function trustOption(values: Record<string, unknown>): Promise<PartyTrust | undefined> {
  const operatorKey = keyOption(values, 'operator-key', 'QUORATE_OPERATOR_KEY');
  const path = opt(values, 'certificate', 'QUORATE_CERTIFICATE');
  if (operatorKey === undefined && path === undefined) return undefined;
  if (operatorKey === undefined || path === undefined) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      '--operator-key and --certificate go together: give both',
    );
  }
  const text = await readBoundedFile(path, limits.operatorFileBytesMax, 'certificate');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new QuorateError('QUORATE_E_CONFIG', `certificate file ${path} is not JSON`);
  }
  const certificate = parseCertificate(raw);
  if (typeof certificate === 'string') {
    throw new QuorateError('QUORATE_E_CONFIG', `certificate file ${path}: ${certificate}`);
  }
  return { operatorKey: hexToBytes(operatorKey), certificate };
}

/**
 * `--heartbeat-ms N|on-demand` (QUORATE_HEARTBEAT_MS): the heartbeat class this party announces
 * (a mobile: 30000), an integer in [heartbeatIntervalMsMin, partyHeartbeatMsMax], or on-demand.
 */
function heartbeatOption(values: Record<string, unknown>): HeartbeatClass | undefined {
  const raw = opt(values, 'heartbeat-ms', 'QUORATE_HEARTBEAT_MS');
  if (raw === undefined) return undefined;
  const value = raw === 'on-demand' ? raw : /^[0-9]{1,9}$/.test(raw) ? Number(raw) : raw;
  if (isHeartbeatClass(value)) return value;
  throw new QuorateError(
    'QUORATE_E_CONFIG',
    `--heartbeat-ms must be an integer from ${limits.heartbeatIntervalMsMin} to ${limits.partyHeartbeatMsMax}, or on-demand`,
    { heartbeatMs: raw },
  );
}

/** The options of `quorate party` that are optional, from flags and environment. */
async function optionalNodeOptions(values: Record<string, unknown>) {
  const partySecret = partySecretOption(values);
  const enrolToken = opt(values, 'enrol-token', 'QUORATE_ENROL_TOKEN');
  const coordinatorKey = keyOption(values, 'coordinator-key', 'QUORATE_COORDINATOR_KEY');
  const trust = await trustOption(values);
  const tlsCa = await pemOption(values, 'tls-ca', 'QUORATE_TLS_CA');
  if (tlsCa !== undefined) checkCertificatePem(tlsCa, '--tls-ca');
  const policy = await loadPolicyOption(values);
  const heartbeatMs = heartbeatOption(values);
  return {
    ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
    ...(partySecret === undefined ? {} : { partySecret }),
    ...(enrolToken === undefined ? {} : { enrolToken }),
    ...(coordinatorKey === undefined ? {} : { coordinatorKey }),
    ...(trust === undefined ? {} : { trust }),
    ...(tlsCa === undefined ? {} : { tlsCa }),
    ...(policy === undefined ? {} : { policy }),
    ...(values['allow-ungoverned'] === true || process.env['QUORATE_ALLOW_UNGOVERNED'] === '1'
      ? { allowUngoverned: true }
      : {}),
  };
}

/**
 * Runs a party until SIGINT/SIGTERM; returns the exit code. `adapt` is for an entry that runs
 * this command inside a harness (`quorate chaos process`, test/helpers/faulty-party.ts);
 * `quorate party` passes none.
 */
export async function runPartyCommand(
  argv: string[],
  adapt?: (env: Env) => PartyProcessAdapter,
): Promise<number> {
  if (argv[0] === 'identity') return runPartyIdentityCommand(argv.slice(1));
  const { values } = parseArgs({ args: argv, options: partyFlags });
  const partyId = required(opt(values, 'id', 'QUORATE_ID'), '--id or QUORATE_ID');
  const optional = await optionalNodeOptions(values);
  const plainEnv = realEnv({ logLevel: logLevel(), bindings: { role: 'party', partyId } });
  const { env, wrapLink, engines, wrapEngines } = adapt?.(plainEnv) ?? { env: plainEnv };
  // The threshold-ECDSA engine: one instance for this process, in a worker thread (its phases
  // take seconds in key generation), its generator fed by the Env.
  const dkls23 = await startDkls23Worker(env.randomBytes);
  const ecdsa = ecdsaPartyEngine(dkls23.api);
  const node = startPartyNode(env, {
    partyId,
    coordinatorUrl: required(
      opt(values, 'coordinator', 'QUORATE_COORDINATOR'),
      '--coordinator or QUORATE_COORDINATOR',
    ),
    dataDir: required(opt(values, 'data', 'QUORATE_DATA'), '--data or QUORATE_DATA'),
    passphrase: required(process.env['QUORATE_KEY_PASSPHRASE'], 'QUORATE_KEY_PASSPHRASE'),
    ...optional,
    ...(wrapLink === undefined ? {} : { wrapLink }),
    engines: wrapEngines?.({ ecdsa, ...engines }) ?? { ecdsa, ...engines },
  });
  await waitForSignal();
  node.stop();
  await dkls23.stop();
  return 0;
}

/**
 * `quorate party identity --id NAME --data DIR`: creates or opens the identity in DIR exactly
 * as `quorate party` does and prints `{partyId, identityKey, boxKey}`: the request an operator
 * certifies with `quorate operator certify`.
 */
export function runPartyIdentityCommand(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { id: { type: 'string' }, data: { type: 'string' } },
  });
  const partyId = required(opt(values, 'id', 'QUORATE_ID'), '--id or QUORATE_ID');
  if (!isPartyId(partyId)) {
    throw new QuorateError('QUORATE_E_CONFIG', 'party id must match [a-z0-9][a-z0-9._-]{0,63}');
  }
  const dataDir = required(opt(values, 'data', 'QUORATE_DATA'), '--data or QUORATE_DATA');
  const passphrase = required(process.env['QUORATE_KEY_PASSPHRASE'], 'QUORATE_KEY_PASSPHRASE');
  const env = realEnv({ logLevel: 'silent' });
  const { identity, journal } = openPartyIdentity(env, dataDir, passphrase);
  journal.close();
  const request = {
    partyId,
    identityKey: bytesToHex(identity.signPublic),
    boxKey: bytesToHex(identity.boxPublic),
  };
  process.stdout.write(`${JSON.stringify(request)}\n`);
  return 0;
}
