/**
 * Stand-alone entry for the chaos harness (`node --import tsx src/cli/chaos-entry.ts run …`),
 * used by the tests to run it as a separate process from the sources; `quorate chaos` runs the
 * same command from the compiled build.
 */
import { runChaosCommand } from './chaos-command.ts';

process.exitCode = await runChaosCommand(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
