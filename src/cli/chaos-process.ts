/**
 * `quorate chaos process [--control FILE] [--latency-ms N] [--jitter-ms N] [--clock-offset-ms N]
 * -- coordinator|party FLAGS…`: runs the normal coordinator or party command with the chaos
 * harness's process faults applied from outside (src/chaos/fault-layer.ts): its Env's wall clock
 * shifted by the clock offset, and every coordinator↔party link's outbound frames delayed by
 * latency ± jitter. The flags give the starting setting; the control file, re-read every 200 ms,
 * replaces it while the process runs (the harness writes it). The plain `quorate coordinator`
 * and `quorate party` commands have no fault hooks at all.
 */
import type { Env } from '../core/env.ts';
import { limits } from '../core/limits.ts';
import {
  delayedLink,
  faultyEnv,
  noFaults,
  parseFaultState,
  watchFaultControl,
  type FaultControl,
  type FaultState,
} from '../chaos/fault-layer.ts';
import type { ProcessAdapter } from './command-options.ts';

/** Where the command writes its usage errors. */
export interface ChaosProcessIo {
  err(line: string): void;
}

const usage = `usage: quorate chaos process [--control FILE] [--latency-ms N] [--jitter-ms N] [--clock-offset-ms N]
                             -- coordinator|party FLAGS…`;

interface ChaosProcessArgs {
  controlFile?: string;
  initial: FaultState;
  command: 'coordinator' | 'party';
  args: string[];
}

const faultFlags: Record<string, keyof FaultState> = {
  '--latency-ms': 'latencyMs',
  '--jitter-ms': 'jitterMs',
  '--clock-offset-ms': 'clockOffsetMs',
};

/** Splits `FLAGS -- COMMAND ARGS`; a string is what is wrong. */
function parseArgs(argv: readonly string[]): ChaosProcessArgs | string {
  const split = argv.indexOf('--');
  if (split < 0) return 'missing -- before the command';
  const own = argv.slice(0, split);
  const raw: Record<string, unknown> = {};
  let controlFile: string | undefined;
  for (let i = 0; i < own.length; i += 2) {
    const [flag, value] = [own[i] ?? '', own[i + 1]];
    if (value === undefined || value === '') return `${flag} needs a value`;
    const field = faultFlags[flag];
    if (flag === '--control') controlFile = value;
    else if (field === undefined) return `unknown flag ${flag}`;
    else if (!Number.isFinite(Number(value))) return `${flag} must be a number`;
    else raw[field] = Number(value);
  }
  const [command, ...args] = argv.slice(split + 1);
  if (command !== 'coordinator' && command !== 'party')
    return `the command after -- must be coordinator or party, not ${command ?? 'nothing'}`;
  return {
    ...(controlFile === undefined ? {} : { controlFile }),
    initial: parseFaultState(raw, noFaults),
    command,
    args,
  };
}

/** Runs the wrapped command until it stops; returns its exit code (2 on bad flags). */
export async function runChaosProcess(argv: string[], io: ChaosProcessIo): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    io.err(`${parsed}\n${usage}`);
    return 2;
  }
  let control: FaultControl | undefined;
  const adapt = (env: Env): ProcessAdapter => {
    const watched = watchFaultControl(env, parsed.controlFile, parsed.initial);
    control = watched;
    const faulty = faultyEnv(env, () => watched.current());
    return {
      env: faulty,
      wrapLink: (link) =>
        delayedLink(link, faulty, () => watched.current(), limits.outboundQueueFramesMax),
    };
  };
  try {
    if (parsed.command === 'coordinator') {
      const { runCoordinatorCommand } = await import('./coordinator-command.ts');
      return await runCoordinatorCommand(parsed.args, adapt);
    }
    const { runPartyCommand } = await import('./party-command.ts');
    return await runPartyCommand(parsed.args, adapt);
  } finally {
    control?.stop();
  }
}
