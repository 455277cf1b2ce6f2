/**
 * `quorate wallet show|refresh|reshare` (docs/key-lifecycle.md): a client of a running
 * coordinator's API. A reshare is signed with the operator key (every dealer checks that
 * authorization); `--to-policy FILE --policy-id ID` reshares to a policy of the lab's file and
 * prints the lab's figures before and after, then asks for confirmation (`--yes` skips it).
 */
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline/promises';
import { bytesToHex } from '@noble/hashes/utils.js';
import { sleep, type Env } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import { analyzePolicyFile, type PolicyAnalysis } from '../policy/analyze-policy.ts';
import { parsePolicyText } from '../policy/parse-policy-text.ts';
import type { PolicyFile } from '../policy/policy-schema.ts';
import { signDetached } from '../transport/identity.ts';
import { reshareAuthorization, reshareAuthorizationDomain } from '../transport/wire.ts';
import { opt, readBoundedFile, required } from './command-options.ts';
import { loadOperatorKey } from './operator-command.ts';

/** What the command writes and reads besides the API. */
export interface WalletIo {
  out(line: string): void;
  err(line: string): void;
  /** Asks the operator; true for yes (not asked with `--yes`). */
  confirm(question: string): Promise<boolean>;
  /** The HTTP client (fetch, or a test's in-process one). */
  fetch: typeof fetch;
  env: Env;
}

const usage = `usage:
  quorate wallet show --wallet ID [--coordinator URL] [--api-token T]
  quorate wallet refresh --wallet ID [--wait] [--json]
  quorate wallet reshare --wallet ID (--threshold T --parties a,b,c | --to-policy FILE --policy-id ID)
                         --operator-key FILE [--yes] [--wait] [--json]
  (--coordinator defaults to QUORATE_COORDINATOR_URL or http://127.0.0.1:7420; the token to QUORATE_API_TOKEN;
   the operator key file is sealed with QUORATE_KEY_PASSPHRASE)`;

type Values = Record<string, string | boolean | undefined>;

/** Runs `quorate wallet …`; returns the exit code. */
export async function runWalletCommand(argv: string[], io: WalletIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      wallet: { type: 'string' },
      coordinator: { type: 'string' },
      'api-token': { type: 'string' },
      threshold: { type: 'string' },
      parties: { type: 'string' },
      'to-policy': { type: 'string' },
      'policy-id': { type: 'string' },
      'operator-key': { type: 'string' },
      yes: { type: 'boolean' },
      wait: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (sub !== 'show' && sub !== 'refresh' && sub !== 'reshare') {
    io.err(usage);
    return 2;
  }
  const api = client(values, io);
  const walletId = required(opt(values, 'wallet', 'QUORATE_WALLET'), '--wallet');
  if (sub === 'show') {
    io.out(JSON.stringify(await api('GET', `/v1/wallets/${walletId}`)));
    return 0;
  }
  const started =
    sub === 'refresh'
      ? await api('POST', `/v1/wallets/${walletId}/refresh`, {})
      : await reshare(values, walletId, api, io);
  if (started === undefined) return 1;
  return report(values, started, api, io);
}

type Api = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

/** A JSON client of the coordinator's API; an error answer is thrown as its code and message. */
function client(values: Values, io: WalletIo): Api {
  const base = opt(values, 'coordinator', 'QUORATE_COORDINATOR_URL') ?? 'http://127.0.0.1:7420';
  const token = required(opt(values, 'api-token', 'QUORATE_API_TOKEN'), '--api-token');
  return async (method, path, body) => {
    const res = await io.fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(limits.cliRequestMsMax),
    });
    const json = (await res.json()) as Record<string, unknown>;
    const error = json['error'] as { code?: string; message?: string } | undefined;
    if (!res.ok && error?.code !== undefined)
      throw new QuorateError('QUORATE_E_CONFIG', `${error.code}: ${error.message ?? ''}`);
    return json;
  };
}

/** The reshare request (signed), after the lab's figures and a confirmation for a policy. */
async function reshare(
  values: Values,
  walletId: string,
  api: Api,
  io: WalletIo,
): Promise<Record<string, unknown> | undefined> {
  const wallet = await api('GET', `/v1/wallets/${walletId}`);
  const target = await targetOf(values, wallet, io);
  if (target === undefined) return undefined;
  const keyFile = required(
    opt(values, 'operator-key', 'QUORATE_OPERATOR_KEY_FILE'),
    '--operator-key',
  );
  const operator = await loadOperatorKey(keyFile, io.env);
  const statement = reshareAuthorization({
    walletId,
    fromEpoch: Number(wallet['epoch'] ?? 0),
    threshold: target.threshold,
    parties: target.parties,
  });
  const authorization = bytesToHex(
    signDetached(reshareAuthorizationDomain, statement, operator.seed),
  );
  return api('POST', `/v1/wallets/${walletId}/reshare`, { ...target, authorization });
}

/** The new threshold and parties: from the flags, or from a policy of a lab file. */
async function targetOf(
  values: Values,
  wallet: Record<string, unknown>,
  io: WalletIo,
): Promise<{ threshold: number; parties: string[] } | undefined> {
  const policyPath = opt(values, 'to-policy', 'QUORATE_TO_POLICY');
  if (policyPath === undefined) {
    const threshold = Number(
      required(opt(values, 'threshold', 'QUORATE_THRESHOLD'), '--threshold'),
    );
    const parties = required(opt(values, 'parties', 'QUORATE_PARTIES'), '--parties').split(',');
    return { threshold, parties };
  }
  const policyId = required(opt(values, 'policy-id', 'QUORATE_POLICY_ID'), '--policy-id');
  const file = parsePolicyText(
    await readBoundedFile(policyPath, limits.policyFileBytesMax, 'policy'),
  );
  const policy = file.policies.find((p) => p.id === policyId);
  if (policy === undefined)
    throw new QuorateError('QUORATE_E_CONFIG', `${policyPath} has no policy ${policyId}`);
  const before = beforeAfter(file, wallet, policy.threshold, policy.shares);
  io.out(JSON.stringify({ before: before.before, after: before.after }));
  if (values['yes'] !== true && !(await io.confirm('reshare the wallet to this policy? [y/N] ')))
    return undefined;
  return { threshold: policy.threshold, parties: [...policy.shares] };
}

/** The lab's figures for the wallet now (if its parties are shares of the file) and after. */
function beforeAfter(
  file: PolicyFile,
  wallet: Record<string, unknown>,
  threshold: number,
  shares: readonly string[],
): { before: Figures | null; after: Figures } {
  const current = (wallet['parties'] as string[] | undefined) ?? [];
  const known = new Set(file.shares.map((s) => s.id));
  const policies = [
    { id: 'after', threshold, shares, index: 0 },
    ...(current.every((p) => known.has(p))
      ? [{ id: 'before', threshold: Number(wallet['threshold']), shares: current, index: 1 }]
      : []),
  ];
  const analysis = analyzePolicyFile({
    ...file,
    policies,
    simulation: { ...file.simulation, explicit: false },
  });
  const of = (id: string) => analysis.policies.find((p) => p.id === id);
  const after = of('after');
  if (after === undefined) throw new QuorateError('QUORATE_E_INTERNAL', 'the lab gave no figures');
  const before = of('before');
  return { before: before === undefined ? null : figures(before), after: figures(after) };
}

type Figures = ReturnType<typeof figures>;

function figures(p: PolicyAnalysis) {
  return {
    threshold: p.threshold,
    shares: p.shares,
    availability: p.availability,
    nines: p.nines,
    downtimeMinutesPerMonth: p.downtimeMinutesPerMonth,
    meetsSlo: p.meetsSlo,
    custodial: p.custodial,
    lossTolerance: p.lossTolerance,
    quorumIntersection: p.quorumIntersection,
  };
}

/** Prints the operation (and with `--wait`, polls it until it ended); exit 1 if it failed. */
async function report(
  values: Values,
  started: Record<string, unknown>,
  api: Api,
  io: WalletIo,
): Promise<number> {
  const operationId = String(started['operationId']);
  if (values['wait'] !== true) {
    io.out(JSON.stringify(started));
    return 0;
  }
  for (let i = 0; i < limits.cliOperationPollsMax; i++) {
    const op = await api('GET', `/v1/operations/${operationId}`);
    if (op['status'] !== 'running') {
      io.out(JSON.stringify(op));
      return op['status'] === 'done' ? 0 : 1;
    }
    await sleep(io.env, limits.pollIntervalMs);
  }
  io.err(
    `operation ${operationId} still running; follow it with GET /v1/operations/${operationId}`,
  );
  return 1;
}

/** Asks on the terminal. */
export async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
