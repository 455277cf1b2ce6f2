/**
 * Test-only party process: `node --import tsx test/helpers/faulty-party.ts [--corrupt-share]
 * [--delay-sign-ms N] [--delay-commit-ms N] <the usual quorate party flags>`. Runs the normal
 * `quorate party` command with its FROST engines wrapped by test/helpers/faulty-engine.ts (a
 * cheating or a slow party), for the end-to-end, HA and benchmark clusters
 * (`LocalClusterOptions.partyEntries`, built by `faultyPartyEntry`).
 */
import { runPartyCommand } from '../../src/cli/party-command.ts';
import { QuorateError } from '../../src/core/errors.ts';
import { engines } from '../../src/protocol/frost.ts';
import { faultyEcdsa, faultyEngines, parseFaultyPartyArgs } from './faulty-engine.ts';

try {
  const { faults, partyArgs } = parseFaultyPartyArgs(process.argv.slice(2));
  process.exitCode = await runPartyCommand(partyArgs, (env) => ({
    env,
    engines: faultyEngines(engines, env, faults),
    wrapEngines: (all) => faultyEcdsa(all, faults),
  }));
} catch (error) {
  if (!(error instanceof QuorateError) && !(error instanceof RangeError)) throw error;
  process.stderr.write(`faulty-party: ${error.message}\n`);
  process.exitCode = 1;
}
// As bin/quorate.js: once the command has stopped, a leftover timer or socket is cut off.
setTimeout(() => process.exit(), 200).unref();
