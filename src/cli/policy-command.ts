/**
 * `quorate policy analyze|recommend|calibrate`: the command-line face of the policy lab. It reads
 * files through `io`, validates flags, calls the pure library in src/policy and prints tables or
 * one JSON line. Exit codes: 0 ok, 1 invalid input (`CODE: path: problem` on stderr), 2 usage.
 */
import { QuorateError } from '../core/errors.ts';
import {
  analyzePolicyFile,
  type FileAnalysis,
  type PolicyAnalysis,
} from '../policy/analyze-policy.ts';
import { calibrateTelemetry, type Calibration } from '../policy/calibrate-telemetry.ts';
import { buildHtmlReport } from '../policy/html-report.ts';
import { parsePolicyText } from '../policy/parse-policy-text.ts';
import { policyLimits } from '../core/limits.ts';
import { stringifyPolicyDocument } from '../policy/policy-yaml.ts';
import { recommendPolicies, type RecommendResult } from '../policy/recommend-policies.ts';

/** What the command may touch: output lines and whole-file reads and writes. */
export interface PolicyCommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  readFile: (path: string) => Promise<string>;
  writeFile: (path: string, text: string) => Promise<void>;
}

const usage = `usage:
  quorate policy analyze FILE [--json] [--html report.html]
  quorate policy recommend FILE [--json] [--n-min 3] [--n-max 5] [--require-non-custodial]
  quorate policy calibrate TELEMETRY.jsonl [--out policy.yaml] [--json]`;

type FlagKind = 'boolean' | 'string';
type Flags = ReadonlyMap<string, string | true>;

class UsageError extends Error {}

const flagSpecs: Record<string, Record<string, FlagKind>> = {
  analyze: { json: 'boolean', html: 'string' },
  recommend: {
    json: 'boolean',
    'n-min': 'string',
    'n-max': 'string',
    'require-non-custodial': 'boolean',
  },
  calibrate: { json: 'boolean', out: 'string' },
};

/** Splits arguments into positionals and known flags (`--name value` or `--name=value`). */
function parseArgs(
  argv: readonly string[],
  spec: Record<string, FlagKind>,
): { positional: string[]; flags: Flags } {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const kind = spec[name];
    if (kind === undefined) throw new UsageError(`unknown option --${name}`);
    if (flags.has(name)) throw new UsageError(`--${name} given twice`);
    if (kind === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return { positional, flags };
}

function stringFlag(flags: Flags, name: string): string | undefined {
  const value = flags.get(name);
  return typeof value === 'string' ? value : undefined;
}

function sharesFlag(flags: Flags, name: string): number | undefined {
  const value = stringFlag(flags, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > policyLimits.placementSharesMax) {
    throw new UsageError(
      `--${name} must be an integer from 1 to ${policyLimits.placementSharesMax}`,
    );
  }
  return n;
}

function onePositional(positional: readonly string[], what: string): string {
  if (positional.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return positional[0] as string;
}

async function readInput(io: PolicyCommandIo, path: string): Promise<string> {
  try {
    return await io.readFile(path);
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : 'read failed';
    throw new QuorateError('QUORATE_E_CONFIG', `${path}: cannot read (${reason})`, {
      path,
      problem: `cannot read (${reason})`,
    });
  }
}

/** Runs `quorate policy …` with `argv` after the word `policy`; resolves to the exit code. */
export async function runPolicyCommand(argv: string[], io: PolicyCommandIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.err : io.out)(usage);
    return command === undefined ? 2 : 0;
  }
  const spec = flagSpecs[command];
  try {
    if (spec === undefined) throw new UsageError(`unknown policy command '${command}'`);
    const { positional, flags } = parseArgs(rest, spec);
    if (command === 'analyze')
      await analyzeCommand(onePositional(positional, 'policy file'), flags, io);
    else if (command === 'recommend')
      await recommendCommand(onePositional(positional, 'policy file'), flags, io);
    else await calibrateCommand(onePositional(positional, 'telemetry file'), flags, io);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`quorate policy: ${error.message}`);
      io.err(usage);
      return 2;
    }
    if (error instanceof QuorateError) {
      const { path, problem } = error.detail;
      io.err(
        typeof path === 'string' && typeof problem === 'string'
          ? `${error.code}: ${path}: ${problem}`
          : `${error.code}: ${error.message}`,
      );
      return 1;
    }
    throw error;
  }
}

async function analyzeCommand(path: string, flags: Flags, io: PolicyCommandIo): Promise<void> {
  const file = parsePolicyText(await readInput(io, path));
  const analysis = analyzePolicyFile(file, {
    onProgress: (policyId, done, total) =>
      io.err(`monte carlo ${policyId}: ${done}/${total} months`),
  });
  const htmlPath = stringFlag(flags, 'html');
  if (htmlPath !== undefined) {
    await io.writeFile(htmlPath, buildHtmlReport(file, analysis, `Quorate policy report: ${path}`));
    io.err(`wrote ${htmlPath}`);
  }
  if (flags.has('json')) io.out(JSON.stringify(analysis));
  else printAnalysis(analysis, io);
}

async function recommendCommand(path: string, flags: Flags, io: PolicyCommandIo): Promise<void> {
  const sharesMin = sharesFlag(flags, 'n-min');
  const sharesMax = sharesFlag(flags, 'n-max');
  if (sharesMin !== undefined && sharesMax !== undefined && sharesMin > sharesMax) {
    throw new UsageError('--n-min exceeds --n-max');
  }
  const file = parsePolicyText(await readInput(io, path));
  const result = recommendPolicies(file, {
    ...(sharesMin === undefined ? {} : { sharesMin }),
    ...(sharesMax === undefined ? {} : { sharesMax }),
    ...(flags.has('require-non-custodial') ? { requireNonCustodial: true } : {}),
  });
  if (flags.has('json')) io.out(JSON.stringify(result));
  else printRecommendation(result, io);
}

async function calibrateCommand(path: string, flags: Flags, io: PolicyCommandIo): Promise<void> {
  const calibration = calibrateTelemetry(await readInput(io, path));
  const window = `${new Date(calibration.windowStartMs).toISOString()} .. ${new Date(calibration.windowEndMs).toISOString()}`;
  const yaml = stringifyPolicyDocument(
    calibration.policyDocument,
    `Calibrated by quorate policy calibrate from ${path}\nobservation window ${window}`,
  );
  const outPath = stringFlag(flags, 'out');
  if (outPath !== undefined) await io.writeFile(outPath, yaml);
  if (flags.has('json')) {
    const { policyDocument, ...fits } = calibration;
    io.out(
      JSON.stringify({
        ...fits,
        policy: policyDocument,
        ...(outPath === undefined ? {} : { out: outPath }),
      }),
    );
    return;
  }
  // Without --out the YAML goes to stdout (so it can be redirected) and the table to stderr.
  const tableSink = outPath === undefined ? io.err : io.out;
  printCalibration(calibration, tableSink);
  if (outPath === undefined) for (const line of yaml.trimEnd().split('\n')) io.out(line);
  else io.out(`wrote ${outPath}`);
}

/** Left-aligned first column, right-aligned others, two spaces apart. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string[] {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

const dash = '-';
const fixed = (value: number | null, digits: number): string =>
  value === null ? dash : value.toFixed(digits);

function printAnalysis(analysis: FileAnalysis, io: PolicyCommandIo): void {
  io.out(`Policy analysis: SLO ${analysis.slo} per 30-day month (43200 min); availability exact.`);
  const headers = [
    'policy',
    't/n',
    'availability',
    'nines',
    'down min/mo',
    'SLO',
    'outages/mo',
    'mean outage min',
    'custodial',
    'min colluding',
    'loss shares/domains',
    '2t>n',
    'unenforced',
  ];
  const rows = analysis.policies.map((p) => [
    p.id,
    `${p.threshold}/${p.n}`,
    p.availability.toFixed(6),
    p.nines.toFixed(2),
    p.downtimeMinutesPerMonth.toFixed(1),
    p.meetsSlo ? 'met' : 'MISSED',
    fixed(p.outagesPerMonth, 3),
    fixed(p.meanOutageMinutes, 1),
    p.custodial ? `yes: ${p.custodialDomains.join(',')}` : 'no',
    String(p.minCollidingDomains),
    `${p.lossTolerance.shares}/${p.lossTolerance.domains}`,
    p.quorumIntersection ? 'yes' : 'no',
    `${(p.unenforcedQuorumShare * 100).toFixed(0)}%`,
  ]);
  for (const line of formatTable(headers, rows)) io.out(line);
  for (const p of analysis.policies) printPolicyDetail(p, io);
  if (analysis.heatmap === null) {
    io.out(`heatmap skipped: ${analysis.heatmapNote ?? ''}`);
    return;
  }
  const heatmap = analysis.heatmap;
  io.out('');
  io.out(`Best nines of t-of-n over placements from ${heatmap.pool.join(', ')}:`);
  const ns = Array.from({ length: heatmap.nMax }, (_, k) => k + 1);
  const heatRows = ns.map((t) => [
    `t=${t}`,
    ...ns.map((n) => fixed(heatmap.cells.find((c) => c.n === n && c.t === t)?.nines ?? null, 2)),
  ]);
  for (const line of formatTable(['', ...ns.map((n) => `n=${n}`)], heatRows)) io.out(line);
}

function printPolicyDetail(p: PolicyAnalysis, io: PolicyCommandIo): void {
  io.out('');
  io.out(
    `${p.id} (${p.threshold}-of-${p.n}: ${p.shares.join(', ')})${p.timeStructure ? ' [schedules enter exact figures as long-run fractions]' : ''}`,
  );
  const mc = p.monteCarlo;
  if (mc !== null) {
    io.out(
      `  monte carlo (${mc.months} months, seed ${mc.seed}): availability ${mc.meanAvailability.toFixed(6)} [99% CI ${mc.availabilityCi99[0].toFixed(6)}, ${mc.availabilityCi99[1].toFixed(6)}], ` +
        `P(month breaches SLO) ${mc.pMonthBreachesSlo.toFixed(4)}, p95 downtime ${mc.p95DowntimeMinutesPerMonth.toFixed(1)} min/mo, ${mc.outagesPerMonth.toFixed(3)} outages/mo`,
    );
  }
  const rows = p.downtimeByCause.map((c) => [
    `${c.kind} ${c.id}`,
    c.minutesPerMonth.toFixed(2),
    `${(c.fraction * 100).toFixed(1)}%`,
  ]);
  if (rows.length === 0) io.out('  no downtime');
  else
    for (const line of formatTable(
      ['  downtime by cause', 'min/mo', 'of total'],
      rows.map((r) => [`  ${r[0]}`, ...r.slice(1)]),
    ))
      io.out(line);
}

function printRecommendation(result: RecommendResult, io: PolicyCommandIo): void {
  io.out(
    `Recommendations: SLO ${result.slo}, n ${result.nMin}..${result.nMax}, pool ${result.pool.join(', ')}${result.requireNonCustodial ? ', non-custodial only' : ''}`,
  );
  io.out(
    `${result.evaluated} t-of-n placements evaluated exactly, ${result.feasible} feasible, ${result.frontierSize} on the Pareto frontier.`,
  );
  if (result.picks.length === 0) {
    const miss = result.closestMiss;
    io.out(
      miss === null
        ? 'No placement satisfies the constraints.'
        : `No placement meets the SLO; the closest is ${miss.threshold}-of-${miss.n} on ${miss.shares.join(', ')} at ${miss.availability.toFixed(6)}.`,
    );
    return;
  }
  const rows = result.picks.map((p) => [
    String(p.rank),
    `${p.threshold}-of-${p.n}`,
    p.shares.join(','),
    p.nines.toFixed(2),
    p.downtimeMinutesPerMonth.toFixed(1),
    String(p.minCollidingDomains),
    p.custodial ? 'yes' : 'no',
    p.quorumIntersection ? 'yes' : 'no',
  ]);
  for (const line of formatTable(
    ['rank', 'policy', 'shares', 'nines', 'down min/mo', 'min colluding', 'custodial', '2t>n'],
    rows,
  ))
    io.out(line);
  io.out('');
  for (const p of result.picks) io.out(`${p.rank}. ${p.explanation}`);
}

function printCalibration(calibration: Calibration, sink: (line: string) => void): void {
  const row = (kind: string, c: Calibration['groups'][number]): string[] => [
    `${kind} ${c.id}`,
    c.upHours.toFixed(1),
    c.downHours.toFixed(2),
    String(c.failures),
    String(c.repairs),
    fixed(c.mttfHours, 2),
    fixed(c.mttrHours, 3),
    c.availability.toFixed(6),
    c.basis,
  ];
  const rows = [
    ...calibration.groups.map((g) => row('group', g)),
    ...calibration.shares.map((s) => row('share', s)),
  ];
  for (const line of formatTable(
    [
      'component',
      'up h',
      'down h',
      'failures',
      'repairs',
      'MTTF h',
      'MTTR h',
      'availability',
      'written as',
    ],
    rows,
  ))
    sink(line);
}
