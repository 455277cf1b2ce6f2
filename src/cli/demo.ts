/**
 * `quorate demo`: a coordinator and 3 parties on loopback in a fresh temp dir, a 2-of-3 bip340
 * wallet, one signature. The parties are certified by an operator key the demo makes (the trust
 * anchor); the demo stays on loopback plaintext and one all-roles API token, and says so.
 * `--once --json` prints exactly one JSON line and exits 0.
 */
import { parseArgs } from 'node:util';
import { realEnv, type Env } from '../core/env.ts';
import { waitForSignal } from './command-options.ts';
import { LocalCluster } from './local-cluster.ts';

const parties = ['mobile', 'backend', 'guardian'];

/** What the demo signed, as `--json` prints it. */
interface DemoResult {
  walletId: string;
  scheme: 'bip340';
  threshold: 2;
  parties: string[];
  publicKey: unknown;
  message: string;
  signature: unknown;
  signers: unknown;
  /** Time from the signing request to its answer (the Env's monotonic clock). */
  ms: number;
}

/** Starts the cluster, creates the wallet by DKG and signs one message. */
async function signOnce(
  env: Env,
  cluster: LocalCluster,
  say: (line: string) => void,
): Promise<DemoResult> {
  say(`data dir: ${cluster.dataDir}`);
  await cluster.startCoordinator();
  say(`coordinator: ${cluster.url}`);
  for (const p of parties) cluster.startParty(p);
  await cluster.waitForParties(parties);
  say(`parties alive: ${parties.join(', ')}`);
  say(
    'trust: each party pins a demo operator key and holds its certificate (docs/security.md); ' +
      'the demo stays on loopback plaintext with one all-roles token (TLS and roles: docs/tls.md, docs/roles.md)',
  );
  const wallet = await cluster.request('POST', '/v1/wallets', {
    scheme: 'bip340',
    threshold: 2,
    parties,
  });
  if (wallet.status !== 201)
    throw new Error(`wallet creation failed: ${JSON.stringify(wallet.json)}`);
  const walletId = wallet.json['walletId'] as string;
  say(`wallet ${walletId} (2-of-3 bip340), public key ${wallet.json['publicKey'] as string}`);
  const message = Buffer.from('quorate demo: pay 0.01 BTC to bc1q-demo').toString('hex');
  const started = env.monoMs();
  const signed = await cluster.request('POST', `/v1/wallets/${walletId}/signatures`, {
    message,
    intentKey: 'demo-1',
  });
  const ms = Math.round((env.monoMs() - started) * 100) / 100;
  if (signed.status !== 200) throw new Error(`signing failed: ${JSON.stringify(signed.json)}`);
  return {
    walletId,
    scheme: 'bip340',
    threshold: 2,
    parties,
    publicKey: wallet.json['publicKey'],
    message,
    signature: signed.json['signature'],
    signers: signed.json['signers'],
    ms,
  };
}

/** How to use the running cluster until Ctrl-C. */
function sayHowToUse(cluster: LocalCluster, say: (line: string) => void): void {
  say('');
  say(`API:   ${cluster.url}   (OpenAPI at ${cluster.url}/openapi.json)`);
  say(`token: ${cluster.apiToken}`);
  say(`try:   curl -s -H "Authorization: Bearer ${cluster.apiToken}" ${cluster.url}/v1/parties`);
  say('Ctrl-C to stop (the temp data dir is removed).');
}

/** Runs the demo; returns the exit code. */
export async function runDemo(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { once: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  const say = (line: string) => {
    if (!values.json) process.stdout.write(`${line}\n`);
  };
  const env = realEnv({ logLevel: 'silent' });
  const cluster = new LocalCluster({ env, logLevel: process.env['QUORATE_LOG_LEVEL'] ?? 'warn' });
  try {
    const result = await signOnce(env, cluster, say);
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      say(`signed by ${(result.signers as string[]).join(' + ')} in ${result.ms} ms`);
      say(`signature ${result.signature as string}`);
    }
    if (values.once) return 0;
    sayHowToUse(cluster, say);
    await waitForSignal();
    return 0;
  } catch (error) {
    process.stderr.write(`demo failed: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await cluster.stop();
  }
}
