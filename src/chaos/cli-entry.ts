/**
 * Stand-alone entry for the harness (`node --import tsx src/chaos/cli-entry.ts run …`), used by
 * the tests to run it as a separate process; `quorate chaos` calls the same command.
 */
import { runChaosCommand } from '../cli/chaos-command.ts';

process.exitCode = await runChaosCommand(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
