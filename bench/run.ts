/**
 * `npm run bench`: runs every benchmark, prints the figures and writes JSON to bench/results/.
 * Pass names to run a subset: `npm run bench -- signing`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHaBench } from './ha-bench.ts';
import { runPolicyBench } from './policy-bench.ts';
import { runLivenessBench } from './liveness-bench.ts';
import { runSigningBench } from './signing-bench.ts';

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');
const log = (line: string) => process.stdout.write(`${line}\n`);

const benches: Record<string, () => Promise<Record<string, unknown>>> = {
  signing: () => runSigningBench(log),
  liveness: () => runLivenessBench(log),
  ha: () => runHaBench(log),
  policy: () => runPolicyBench(),
};

const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(benches);
mkdirSync(resultsDir, { recursive: true });
const machine = {
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
};
for (const name of wanted) {
  const bench = benches[name];
  if (!bench) {
    process.stderr.write(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}\n`);
    process.exit(2);
  }
  log(`== ${name}`);
  const result = { bench: name, at: new Date().toISOString(), machine, ...(await bench()) };
  const file = join(resultsDir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const { bench: _bench, at: _at, machine: _machine, ...figures } = result;
  log(JSON.stringify(figures, null, 2));
  log(`wrote ${file}`);
}
