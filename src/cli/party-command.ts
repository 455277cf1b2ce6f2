/**
 * `quorate party`: parses flags (each also read from its environment variable), starts the party
 * node that dials the coordinator(s), and stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { realEnv, type Env } from '../core/env.ts';
import { startPartyNode, type PartyNodeOptions } from '../party/node.ts';
import { logLevel, opt, required, waitForSignal, type ProcessAdapter } from './command-options.ts';
import { loadPolicyOption } from './policy-option.ts';

/**
 * What an entry that runs this command inside a harness changes about the party process: the
 * Env, a wrapper for its links, and (test-only entries) the signature engines it runs.
 */
export interface PartyProcessAdapter extends ProcessAdapter {
  engines?: PartyNodeOptions['engines'];
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
  const plainEnv = realEnv({ logLevel: logLevel(), bindings: { role: 'party', partyId } });
  const { env, wrapLink, engines } = adapt?.(plainEnv) ?? { env: plainEnv };
  const node = startPartyNode(env, {
    partyId,
    coordinatorUrl: required(
      opt(values, 'coordinator', 'QUORATE_COORDINATOR'),
      '--coordinator or QUORATE_COORDINATOR',
    ),
    dataDir: required(opt(values, 'data', 'QUORATE_DATA'), '--data or QUORATE_DATA'),
    passphrase: required(process.env['QUORATE_KEY_PASSPHRASE'], 'QUORATE_KEY_PASSPHRASE'),
    ...(partySecret === undefined ? {} : { partySecret }),
    ...(policy === undefined ? {} : { policy }),
    ...(wrapLink === undefined ? {} : { wrapLink }),
    ...(engines === undefined ? {} : { engines }),
  });
  await waitForSignal();
  node.stop();
  return 0;
}
