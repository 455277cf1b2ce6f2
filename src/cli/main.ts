/**
 * The `quorate` command. Every option also reads an environment variable; `--json` prints
 * machine-readable lines on stdout while logs go to stderr.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { QuorateError } from '../core/errors.ts';

// Each command's module is imported only when that command runs: the coordinator and party
// pull in fastify, SQLite, the FROST engine and the CEL rules, which `--help` does not need.

const usage = `usage:
  quorate coordinator --listen 127.0.0.1:7420 --data DIR [--store sqlite|etcd://h1:2379,h2:2379] [--lease-ttl-ms 3000]
                      [--api-token T] [--api-tokens FILE] [--party-secret S] [--json]
                      [--policy FILE] [--heartbeat-ms 1000] [--phi-threshold 8] [--down-after-ms 5000] [--blame-cooldown-ms 600000]
                      [--tls-cert FILE --tls-key FILE]   (HTTPS and WSS on the same port; docs/tls.md)
                      [--etcd-ca FILE [--etcd-cert FILE --etcd-key FILE]]   (etcd over TLS, client certificates)
                      [--operator-key HEX]   (party certificates must verify under it; docs/security.md)
                      [--retention-days 35] [--archive-dir DIR]   (finished sessions to a gzip JSONL per day; 0: keep all; docs/scale.md)
  quorate party --id NAME --coordinator ws://127.0.0.1:7420[,wss://replica2…] --data DIR [--policy FILE]
                      [--party-secret S] [--enrol-token T] [--coordinator-key HEX]
                      [--operator-key HEX --certificate FILE] [--tls-ca FILE] [--allow-ungoverned]
                      [--heartbeat-ms N|on-demand]   (its heartbeat class: a mobile 30000; docs/running.md)
  quorate party identity --id NAME --data DIR   prints {partyId, identityKey, boxKey} (creates the identity if new)
  quorate operator init --out FILE              a new operator key, sealed with QUORATE_KEY_PASSPHRASE; prints {operatorKey}
  quorate operator certify --key FILE --request FILE --out FILE   certifies a party identity request
  quorate demo [--once] [--json]
  quorate sim --seeds N [--seed S] [--json] [--kind K] [--scheme S] [--dkg] [--history]
  quorate sim --adversary coordinator|parties --seeds N [--seed S] [--json]   (docs/simulator.md, "Adversaries")
  quorate chaos run --scenario NAME --duration S --seed N --out DIR [--json]   (root; docs/game-day.md)
  quorate chaos process [--control FILE] [--latency-ms N] [--jitter-ms N] [--clock-offset-ms N] -- coordinator|party FLAGS…
                      (how the chaos harness starts its processes: the command with injected latency and clock offset)
  quorate policy analyze|recommend|calibrate FILE [--json]
  quorate wallet show|refresh|reshare --wallet ID …   key lifecycle without moving funds (docs/key-lifecycle.md;
                      quorate wallet --help)

--party-secret needs at least 24 characters, 8 of them distinct (openssl rand -hex 24).

environment: QUORATE_API_TOKEN, QUORATE_PARTY_SECRET, QUORATE_KEY_PASSPHRASE, QUORATE_LISTEN,
  QUORATE_DATA, QUORATE_STORE, QUORATE_ID, QUORATE_COORDINATOR, QUORATE_LOG_LEVEL, QUORATE_HEARTBEAT_MS,
  QUORATE_PHI_THRESHOLD, QUORATE_DOWN_AFTER_MS, QUORATE_BLAME_COOLDOWN_MS, QUORATE_POLICY, QUORATE_LEASE_TTL_MS,
  QUORATE_API_TOKENS_FILE, QUORATE_TLS_CERT, QUORATE_TLS_KEY, QUORATE_TLS_CA, QUORATE_ETCD_CA, QUORATE_ETCD_CERT,
  QUORATE_ETCD_KEY, QUORATE_ENROL_TOKEN, QUORATE_COORDINATOR_KEY, QUORATE_OPERATOR_KEY, QUORATE_CERTIFICATE,
  QUORATE_ALLOW_UNGOVERNED=1, QUORATE_RETENTION_DAYS, QUORATE_ARCHIVE_DIR
  quorate api-token new --name NAME   prints a fresh token and its line for --api-tokens FILE`;

/** `quorate policy …` with the process's stdout, stderr and files. */
async function policyCommand(argv: string[]): Promise<number> {
  const { runPolicyCommand } = await import('./policy-command.ts');
  return runPolicyCommand(argv, {
    out: (line: string) => process.stdout.write(`${line}\n`),
    err: (line: string) => process.stderr.write(`${line}\n`),
    readFile: (path: string) => readFile(path, 'utf8'),
    writeFile: (path: string, text: string) => writeFile(path, text),
  });
}

/** `quorate wallet …` with the process's stdout, stderr, terminal and fetch. */
async function walletCommand(argv: string[]): Promise<number> {
  const { runWalletCommand, askOnTerminal } = await import('./wallet-command.ts');
  const { realEnv } = await import('../core/env.ts');
  return runWalletCommand(argv, {
    out: (line: string) => process.stdout.write(`${line}\n`),
    err: (line: string) => process.stderr.write(`${line}\n`),
    confirm: askOnTerminal,
    fetch,
    env: realEnv({ logLevel: 'silent' }),
  });
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'coordinator':
        return await (await import('./coordinator-command.ts')).runCoordinatorCommand(rest);
      case 'party':
        return await (await import('./party-command.ts')).runPartyCommand(rest);
      case 'demo':
        return await (await import('./demo.ts')).runDemo(rest);
      case 'policy':
        return await policyCommand(rest);
      case 'operator':
        return await (
          await import('./operator-command.ts')
        ).runOperatorCommand(rest, { out: (line: string) => process.stdout.write(`${line}\n`) });
      case 'wallet':
        return await walletCommand(rest);
      case 'api-token':
        return (await import('./api-token-command.ts')).runApiTokenCommand(rest);
      case 'sim': {
        const { runSimCommand } = await import('./sim-command.ts');
        return await runSimCommand(rest, {
          out: (line: string) => process.stdout.write(`${line}\n`),
          err: (line: string) => process.stderr.write(`${line}\n`),
        });
      }
      case 'chaos': {
        if (rest[0] === 'process') {
          const { runChaosProcess } = await import('./chaos-process.ts');
          return await runChaosProcess(rest.slice(1), {
            err: (line: string) => process.stderr.write(`${line}\n`),
          });
        }
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
