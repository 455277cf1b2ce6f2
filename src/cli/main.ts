/**
 * The `quorate` command. Every option also reads an environment variable; `--json` prints
 * machine-readable lines on stdout while logs go to stderr.
 */
import { parseArgs } from 'node:util';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { loadPolicyWithRules, type LoadedPolicy } from '../policy/rules/index.ts';
import { realEnv } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { startCoordinatorNode } from '../coordinator/node.ts';
import { defaultDetectorOptions, type DetectorOptions } from '../coordinator/party-registry.ts';
import { startPartyNode } from '../party/node.ts';
import { EtcdStore } from '../store/etcd.ts';
import { runDemo } from './demo.ts';
import {
  combinePrincipals,
  defaultPrincipalName,
  parseApiTokensFile,
  principalFromToken,
  tokenDigestHex,
  type ApiPrincipal,
} from '../api/principals.ts';
import { bytesToHex } from '@noble/hashes/utils.js';

const usage = `usage:
  quorate coordinator --listen 127.0.0.1:7420 --data DIR [--store sqlite|etcd://h1:2379,h2:2379] [--lease-ttl-ms 3000]
                      [--api-token T] [--api-tokens FILE] [--party-secret S] [--json]
                      [--policy FILE] [--heartbeat-ms 1000] [--phi-threshold 8] [--down-after-ms 5000] [--blame-cooldown-ms 600000]
  quorate party --id NAME --coordinator ws://127.0.0.1:7420[,ws://replica2…] --data DIR [--party-secret S] [--policy FILE]
  quorate demo [--once] [--json]
  quorate sim --seeds N [--seed S] [--json] [--kind K] [--dkg] [--history]
  quorate chaos run --scenario NAME --duration S --seed N --out DIR [--json]   (root; docs/game-day.md)
  quorate policy analyze|recommend|calibrate FILE [--json]

environment: QUORATE_API_TOKEN, QUORATE_PARTY_SECRET, QUORATE_KEY_PASSPHRASE, QUORATE_LISTEN,
  QUORATE_DATA, QUORATE_STORE, QUORATE_ID, QUORATE_COORDINATOR, QUORATE_LOG_LEVEL, QUORATE_HEARTBEAT_MS,
  QUORATE_PHI_THRESHOLD, QUORATE_DOWN_AFTER_MS, QUORATE_BLAME_COOLDOWN_MS, QUORATE_POLICY, QUORATE_LEASE_TTL_MS,
  QUORATE_API_TOKENS_FILE
  quorate api-token new --name NAME   prints a fresh token and its line for --api-tokens FILE`;

type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

function opt(values: Record<string, unknown>, name: string, envName: string): string | undefined {
  const v = values[name];
  if (typeof v === 'string' && v !== '') return v;
  const e = process.env[envName];
  return e === undefined || e === '' ? undefined : e;
}

function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new QuorateError('QUORATE_E_CONFIG', `missing ${what}`);
  return value;
}

function logLevel(): LogLevel {
  const l = process.env['QUORATE_LOG_LEVEL'] ?? 'info';
  return (['debug', 'info', 'warn', 'error', 'silent'].includes(l) ? l : 'info') as LogLevel;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

async function coordinatorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string' },
      data: { type: 'string' },
      store: { type: 'string' },
      'api-token': { type: 'string' },
      'api-tokens': { type: 'string' },
      'party-secret': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'phi-threshold': { type: 'string' },
      'down-after-ms': { type: 'string' },
      'blame-cooldown-ms': { type: 'string' },
      policy: { type: 'string' },
      'lease-ttl-ms': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const listen = opt(values, 'listen', 'QUORATE_LISTEN') ?? '127.0.0.1:7420';
  const match = /^([^:]+|\[[^\]]+\]):(\d{1,5})$/.exec(listen);
  if (!match) throw new QuorateError('QUORATE_E_CONFIG', '--listen must be HOST:PORT', { listen });
  const storeUrl = opt(values, 'store', 'QUORATE_STORE') ?? 'sqlite';
  if (storeUrl !== 'sqlite' && !storeUrl.startsWith('etcd://')) {
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      '--store must be sqlite or etcd://host:port[,host:port…]',
      { store: storeUrl },
    );
  }
  const leaseTtlMs = numberOption(
    values,
    'lease-ttl-ms',
    'QUORATE_LEASE_TTL_MS',
    limits.storeLeaseTtlMsMin,
    limits.storeLeaseTtlMsMax,
  );
  const leaseTtlMsWhole = leaseTtlMs === undefined ? undefined : Math.round(leaseTtlMs);
  // Who may call the API: the plain token (principal `default`) and/or named tokens from a
  // file; checked here so a bad file stops the start with its path and problem.
  const apiToken = opt(values, 'api-token', 'QUORATE_API_TOKEN');
  const principals = combinePrincipals(
    apiToken === undefined ? [] : [principalFromToken(defaultPrincipalName, apiToken)],
    (await loadApiTokensOption(values)) ?? [],
  );
  const partySecret = opt(values, 'party-secret', 'QUORATE_PARTY_SECRET');
  const env = realEnv({ logLevel: logLevel(), bindings: { role: 'coordinator' } });
  const detector = detectorOptions(values);
  const policy = await loadPolicyOption(values);
  // etcd: N replicas share one cluster (linearizable reads, leases); sqlite: one coordinator.
  const store = storeUrl === 'sqlite' ? undefined : await EtcdStore.open(storeUrl, env);
  const node = await startCoordinatorNode(env, {
    ...(store === undefined ? {} : { store }),
    ...(leaseTtlMsWhole === undefined ? {} : { leaseTtlMs: leaseTtlMsWhole }),
    detector,
    ...(policy === undefined ? {} : { policy }),
    host: (match[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''),
    port: Number(match[2]),
    dataDir: required(opt(values, 'data', 'QUORATE_DATA'), '--data or QUORATE_DATA'),
    principals,
    passphrase: required(process.env['QUORATE_KEY_PASSPHRASE'], 'QUORATE_KEY_PASSPHRASE'),
    ...(partySecret === undefined ? {} : { partySecret }),
  });
  if (values.json)
    process.stdout.write(`${JSON.stringify({ event: 'listening', url: node.url })}\n`);
  else process.stdout.write(`quorate coordinator listening on ${node.url}\n`);
  await waitForSignal();
  await node.stop();
  return 0;
}

function numberOption(
  values: Record<string, unknown>,
  name: string,
  envName: string,
  min: number,
  max: number,
): number | undefined {
  const raw = opt(values, name, envName);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new QuorateError('QUORATE_E_CONFIG', `--${name} must be a number in [${min}, ${max}]`, {
      value: raw,
    });
  }
  return n;
}

/** Failure-detector tunables from flags/env, on top of the defaults. */
function detectorOptions(values: Record<string, unknown>): DetectorOptions {
  const heartbeat = numberOption(
    values,
    'heartbeat-ms',
    'QUORATE_HEARTBEAT_MS',
    limits.heartbeatIntervalMsMin,
    limits.heartbeatIntervalMsMax,
  );
  const phi = numberOption(values, 'phi-threshold', 'QUORATE_PHI_THRESHOLD', 1, 50);
  const downAfter = numberOption(values, 'down-after-ms', 'QUORATE_DOWN_AFTER_MS', 100, 600_000);
  const cooldown = numberOption(
    values,
    'blame-cooldown-ms',
    'QUORATE_BLAME_COOLDOWN_MS',
    0,
    86_400_000,
  );
  const d = defaultDetectorOptions;
  return {
    ...d,
    heartbeatIntervalMs: heartbeat ?? d.heartbeatIntervalMs,
    phi: {
      ...d.phi,
      threshold: phi ?? d.phi.threshold,
      firstIntervalMs: heartbeat ?? d.phi.firstIntervalMs,
    },
    downAfterMs: downAfter ?? d.downAfterMs,
    blameCooldownMs: cooldown ?? d.blameCooldownMs,
  };
}

/** Loads `--policy FILE` (or QUORATE_POLICY): the policy file with its signing-time rules. */
async function loadApiTokensOption(
  values: Record<string, unknown>,
): Promise<ApiPrincipal[] | undefined> {
  const path = opt(values, 'api-tokens', 'QUORATE_API_TOKENS_FILE');
  if (path === undefined) return undefined;
  return parseApiTokensFile(
    await readBoundedFile(path, limits.apiTokensFileBytesMax, 'API tokens'),
    path,
  );
}

/** Reads a config file of at most `maxBytes`; any failure is `QUORATE_E_CONFIG` naming it. */
async function readBoundedFile(path: string, maxBytes: number, what: string): Promise<string> {
  try {
    const info = await stat(path);
    if (info.size > maxBytes) {
      throw new QuorateError('QUORATE_E_CONFIG', `${what} file exceeds ${maxBytes} bytes`, {
        path,
      });
    }
    return await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof QuorateError) throw error;
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `cannot read ${what} file ${path}: ${String(error)}`,
      {
        path,
      },
    );
  }
}

async function loadPolicyOption(
  values: Record<string, unknown>,
): Promise<LoadedPolicy | undefined> {
  const path = opt(values, 'policy', 'QUORATE_POLICY');
  if (path === undefined) return undefined;
  return loadPolicyWithRules(await readBoundedFile(path, limits.policyFileBytesMax, 'policy'));
}

async function partyCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      id: { type: 'string' },
      coordinator: { type: 'string' },
      data: { type: 'string' },
      'party-secret': { type: 'string' },
      policy: { type: 'string' },
    },
  });
  const policy = await loadPolicyOption(values);
  const partyId = required(opt(values, 'id', 'QUORATE_ID'), '--id or QUORATE_ID');
  const partySecret = opt(values, 'party-secret', 'QUORATE_PARTY_SECRET');
  const delay = process.env['QUORATE_TEST_DELAY_SIGN_MS'];
  const env = realEnv({ logLevel: logLevel(), bindings: { role: 'party', partyId } });
  const node = startPartyNode(env, {
    partyId,
    coordinatorUrl: required(
      opt(values, 'coordinator', 'QUORATE_COORDINATOR'),
      '--coordinator or QUORATE_COORDINATOR',
    ),
    dataDir: required(opt(values, 'data', 'QUORATE_DATA'), '--data or QUORATE_DATA'),
    passphrase: required(process.env['QUORATE_KEY_PASSPHRASE'], 'QUORATE_KEY_PASSPHRASE'),
    ...(partySecret === undefined ? {} : { partySecret }),
    ...(delay === undefined ? {} : { testDelaySignMs: Number(delay) }),
    ...(process.env['QUORATE_TEST_CORRUPT_SHARE'] === '1' ? { testCorruptShare: true } : {}),
    ...(policy === undefined ? {} : { policy }),
  });
  await waitForSignal();
  node.stop();
  return 0;
}

async function policyCommand(argv: string[]): Promise<number> {
  const { runPolicyCommand } = await import('./policy-command.ts');
  return runPolicyCommand(argv, {
    out: (line: string) => process.stdout.write(`${line}\n`),
    err: (line: string) => process.stderr.write(`${line}\n`),
    readFile: (path: string) => readFile(path, 'utf8'),
    writeFile: (path: string, text: string) => writeFile(path, text),
  });
}

/**
 * `quorate api-token new --name NAME [--json]`: a fresh random token (32 bytes, hex) for a
 * named principal and the line that lists it in `--api-tokens FILE`. The token is printed once
 * and kept nowhere: the file holds only its SHA-256.
 */
function apiTokenCommand(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub !== 'new') {
    process.stderr.write(`usage: quorate api-token new --name NAME [--json]\n`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: { name: { type: 'string' }, json: { type: 'boolean' } },
  });
  const name = required(values.name, '--name');
  const token = bytesToHex(realEnv({ logLevel: 'silent' }).randomBytes(32));
  principalFromToken(name, token); // validates the name
  const sha256 = tokenDigestHex(token);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ name, token, sha256 })}\n`);
  } else {
    process.stdout.write(
      `token for ${name} (shown once; give it to the caller, keep it out of the file):\n` +
        `  ${token}\n` +
        `line for --api-tokens FILE (under tokens:):\n` +
        `  - { name: ${name}, sha256: ${sha256} }\n`,
    );
  }
  return 0;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'coordinator':
        return await coordinatorCommand(rest);
      case 'party':
        return await partyCommand(rest);
      case 'demo':
        return await runDemo(rest);
      case 'policy':
        return await policyCommand(rest);
      case 'api-token':
        return apiTokenCommand(rest);
      case 'sim': {
        const { runSimCommand } = await import('./sim-command.ts');
        return await runSimCommand(rest, {
          out: (line: string) => process.stdout.write(`${line}\n`),
          err: (line: string) => process.stderr.write(`${line}\n`),
        });
      }
      case 'chaos': {
        const { runChaosCommand } = await import('./chaos-command.ts');
        return await runChaosCommand(rest, {
          out: (line: string) => process.stdout.write(`${line}\n`),
          err: (line: string) => process.stderr.write(`${line}\n`),
        });
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${usage}\n`);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`unknown command ${command}\n${usage}\n`);
        return 2;
    }
  } catch (error) {
    if (error instanceof QuorateError) {
      process.stderr.write(`${error.code}: ${error.message}\n`);
      return 1;
    }
    if (
      error instanceof TypeError &&
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`${error.message}\n${usage}\n`);
      return 2;
    }
    throw error;
  }
}
