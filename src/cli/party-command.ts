/**
 * `quorate party`: parses flags (each also read from its environment variable), starts the party
 * node that dials the coordinator(s), and stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { realEnv } from '../core/env.ts';
import { startPartyNode } from '../party/node.ts';
import { logLevel, opt, required, waitForSignal } from './command-options.ts';
import { loadPolicyOption } from './policy-option.ts';

/** Runs a party until SIGINT/SIGTERM; returns the exit code. */
export async function runPartyCommand(argv: string[]): Promise<number> {
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
