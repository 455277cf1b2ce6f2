/**
 * `npm run bench`: runs every benchmark, prints the figures and writes JSON to bench/results/.
 * Pass names to run a subset: `npm run bench -- signing`. Builds dist/ first (incremental): the
 * benchmarks on real processes run bin/quorate.js, which runs the compiled code.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHaBench } from './ha-bench.ts';
import { runPartiesBench } from './parties-bench.ts';
import { runPolicyBench } from './policy-bench.ts';
import { runPrimitivesBench } from './primitives-bench.ts';
import { runScaleBench } from './scale-bench.ts';
import { runLifecycleBench } from './lifecycle-bench.ts';
import { runLivenessBench } from './liveness-bench.ts';
import { runSigningBench } from './signing-bench.ts';
import { runStartupBench } from './startup-bench.ts';
import { runTailBench } from './tail-bench.ts';

const benchDir = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(benchDir, 'results');
const log = (line: string) => process.stdout.write(`${line}\n`);

function buildDist(): void {
  const t0 = performance.now();
  const tsc = join(benchDir, '../node_modules/typescript/bin/tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', join(benchDir, '../tsconfig.build.json')], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (build.status !== 0) {
    process.stderr.write(
      `build failed (tsc -p tsconfig.build.json):\n${build.stdout}${build.stderr}`,
    );
    process.exit(1);
  }
  log(
    `build (tsc -p tsconfig.build.json, incremental) ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

const benches: Record<string, () => Promise<Record<string, unknown>>> = {
  signing: () => runSigningBench(log),
  primitives: () => runPrimitivesBench(log),
  liveness: () => runLivenessBench(log),
  ha: () => runHaBench(log),
  policy: () => runPolicyBench(),
  startup: () => runStartupBench(log),
  parties: () => runPartiesBench(log),
  scale: () => runScaleBench(log),
  tail: () => runTailBench(log),
  lifecycle: () => runLifecycleBench(log),
};

const args = process.argv.slice(2);
// `--cpu-prof`: the processes a benchmark starts write V8 CPU profiles to bench/results/profiles
// (open them in Chrome DevTools); the figures of a profiled run are not comparable.
if (args.includes('--cpu-prof'))
  process.env['QUORATE_BENCH_CPU_PROF'] = join(resultsDir, 'profiles');
const names = args.filter((a) => !a.startsWith('--'));
const wanted = names.length > 0 ? names : Object.keys(benches);
const unknown = wanted.filter((name) => benches[name] === undefined);
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(benches).join(', ')}\n`,
  );
  process.exit(2);
}
buildDist();
mkdirSync(resultsDir, { recursive: true });
const machine = {
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
};
for (const name of wanted) {
  const bench = benches[name];
  if (!bench) throw new Error(`unknown benchmark ${name}`); // checked above
  log(`== ${name}`);
  const result = { bench: name, at: new Date().toISOString(), machine, ...(await bench()) };
  const file = join(resultsDir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const { bench: _bench, at: _at, machine: _machine, ...figures } = result;
  log(JSON.stringify(figures, null, 2));
  log(`wrote ${file}`);
}
