#!/usr/bin/env node
// The test runner behind `npm test`. It
//  1. finds the test files (*.test.ts) under the given directories or files (default: test/);
//  2. checks what those files need from the machine: test/etcd needs the `etcd` binary, the
//     etcd leader-isolation test and the chaos test on real processes need root, `ip` and
//     `iptables` (and `nft` for chaos) to build network namespaces; the TLS tests and the secure
//     walkthrough need `openssl` (and `curl`). On Debian as root it
//     installs what is missing with apt-get (one line per tool says what and why); elsewhere, or
//     with QUORATE_TEST_SKIP_INSTALL=1 or --no-install, it names what is missing and how to
//     install it and stops before running anything;
//  3. builds src/ into dist/ (incremental `tsc -p tsconfig.build.json`): end-to-end tests spawn
//     bin/quorate.js, which runs the compiled code, so tests never run a stale build;
//  4. runs the files with `node --import tsx --test --test-concurrency=2` and
//     scripts/test-reporter.mjs: one line per file as it finishes (in file order: node reports a
//     file once the files before it are done), with its duration, result and counts, and the
//     details of every failure;
//  5. prints the ten slowest files, the wall time and, last, `tests: N passed, N failed[, N
//     skipped]`. The exit code is non-zero on any failure, on a file that did not load or ran
//     no test, and when no test ran at all.
//
// Usage: node scripts/run-tests.mjs [--no-install] [--quick | DIR_OR_FILE ...]
//   npm test              everything (as root on Debian it installs etcd, iproute2, iptables,
//                         nftables, openssl, curl if missing)
//   npm run test:quick    (--quick) a developer's subset: 13 s on this project's 2-core machine
//                         when idle, 27 s while another suite ran (the full suite takes many
//                         minutes): test/unit, test/policy,
//                         test/policy-rules and the fast files of test/chaos and test/sim, less
//                         the files listed as slow in `quick` below (real processes or long
//                         property runs); it needs nothing from the machine
//   npm run test:unit     test/unit only (needs nothing from the machine)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const startedMs = performance.now();
const say = (line) => process.stdout.write(`run-tests: ${line}\n`);
const fail = (line) => {
  process.stderr.write(`run-tests: ${line}\n`);
  process.exit(2);
};
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/**
 * What test files need from the machine beyond node_modules. `tools` are probed by running them;
 * a test that needs a new tool must be listed here, or a fresh machine fails it.
 */
const needs = [
  {
    match: (file) => file.startsWith('test/etcd/'),
    tools: ['etcd'],
    why: 'test/etcd starts its own etcd on loopback',
  },
  {
    match: (file) => file === 'test/etcd/ha-leader-isolation.test.ts',
    tools: ['ip', 'iptables'],
    root: true,
    why: 'the etcd leader-isolation test puts etcd members in network namespaces and cuts them apart with iptables',
  },
  {
    match: (file) =>
      [
        'test/e2e/tls.test.ts',
        'test/etcd/etcd-tls.test.ts',
        'test/unit/operator-command.test.ts',
        'test/e2e/secure-walkthrough.test.ts',
      ].includes(file),
    tools: ['openssl'],
    why: 'the TLS tests and the secure walkthrough make their CA and certificates with openssl',
  },
  {
    match: (file) => file === 'test/e2e/secure-walkthrough.test.ts',
    tools: ['curl'],
    why: 'the secure walkthrough (examples/secure-loopback.sh) calls the API with curl, as the README does',
  },
  {
    match: (file) => file === 'test/chaos/real-netns.test.ts',
    tools: ['ip', 'iptables', 'nft'],
    root: true,
    why: 'test/chaos runs the harness on real processes in network namespaces with iptables and nft rules',
  },
];

/** How to probe each tool and the Debian package that provides it. */
const tools = {
  etcd: { probe: [process.env['QUORATE_ETCD_BIN'] ?? 'etcd', '--version'], debian: 'etcd-server' },
  ip: { probe: ['ip', '-V'], debian: 'iproute2' },
  iptables: { probe: ['iptables', '-V'], debian: 'iptables' },
  nft: { probe: ['nft', '--version'], debian: 'nftables' },
  openssl: { probe: ['openssl', 'version'], debian: 'openssl' },
  curl: { probe: ['curl', '--version'], debian: 'curl' },
};

/**
 * `--quick`: what a developer runs between edits. Chosen by measured cost on a 2-core machine:
 * each listed root's files take 0.2–5 s; the excluded files take 8–180 s each.
 */
const quick = {
  roots: [
    'test/unit',
    'test/policy',
    'test/policy-rules',
    'test/chaos/report.test.ts',
    'test/chaos/schedule.test.ts',
    'test/sim/checker.test.ts',
    'test/sim/journal-memory.test.ts',
    'test/sim/sim-command.test.ts',
  ],
  slow: [
    'test/unit/party-policy-refusal.test.ts', // 8 s: real party processes
    'test/policy-rules/evaluate-rules.test.ts', // 17 s: property runs over the CEL engine
  ],
};

const aptTimeoutMs = 15 * 60_000;
const probeTimeoutMs = 10_000;
const buildTimeoutMs = 5 * 60_000;
const slowestShown = 10;

/** The test files under `path` (absolute), as paths relative to the repository. */
function collect(path, out) {
  if (!existsSync(path)) fail(`no such file or directory: ${path}`);
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) collect(join(path, entry), out);
  } else if (path.endsWith('.test.ts')) {
    out.push(relative(repoRoot, path));
  }
  return out;
}

const runs = (argv) =>
  spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: probeTimeoutMs }).status === 0;

/** Each tool the selected files need, with the reasons. */
function requirementsOf(files) {
  const wanted = new Map(); // tool → reasons
  let rootFor;
  for (const need of needs) {
    if (!files.some(need.match)) continue;
    for (const tool of need.tools) wanted.set(tool, [...(wanted.get(tool) ?? []), need.why]);
    if (need.root && rootFor === undefined) rootFor = need.why;
  }
  return { wanted, rootFor };
}

function missingTools(wanted) {
  return [...wanted.keys()].filter((tool) => !runs(tools[tool].probe));
}

/** Runs apt-get quietly; on failure prints its output and stops. */
function aptGet(args) {
  const result = spawnSync('apt-get', args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    timeout: aptTimeoutMs,
  });
  if (result.status !== 0) {
    process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}`);
    fail(`apt-get ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
}

/** Makes sure every tool the selected files need is here, installing it where we can. */
function ensureRequirements(files, installAllowed) {
  const { wanted, rootFor } = requirementsOf(files);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  let missing = missingTools(wanted);
  const packages = [...new Set(missing.map((tool) => tools[tool].debian))];
  const isDebian = existsSync('/etc/debian_version') && runs(['apt-get', '--version']);
  const canInstall = isRoot && isDebian && installAllowed;
  if ((rootFor !== undefined && !isRoot) || (missing.length > 0 && !canInstall)) {
    const lines = [];
    if (rootFor !== undefined && !isRoot) lines.push(`  root: ${rootFor}`);
    for (const tool of missing) lines.push(`  ${tool}: ${wanted.get(tool).join('; ')}`);
    const steps = [];
    if (missing.length > 0) {
      steps.push(
        isDebian
          ? `apt-get install -y ${packages.join(' ')} (as root)`
          : `install ${missing.join(', ')} (on Debian/Ubuntu: apt-get install -y ${packages.join(' ')})`,
      );
    }
    if (rootFor !== undefined && !isRoot)
      steps.push('run the tests as root, on a disposable machine (CI does)');
    if (isRoot && isDebian && !installAllowed)
      steps.push(
        'or unset QUORATE_TEST_SKIP_INSTALL / drop --no-install to let npm test install them',
      );
    else if (isDebian && !isRoot) steps.push('npm test as root installs missing packages itself');
    fail(
      `nothing was run: the selected tests need what this machine lacks:\n${lines.join('\n')}\n` +
        `${steps.map((step) => `  -> ${step}`).join('\n')}\n` +
        '  (tests that need nothing from the machine: node scripts/run-tests.mjs test/unit test/policy)',
    );
  }
  if (missing.length === 0) return 0;
  const installStartMs = performance.now();
  for (const tool of missing) {
    const what = tools[tool].debian === tool ? tool : `${tools[tool].debian} (for ${tool})`;
    say(`installing ${what}: ${wanted.get(tool).join('; ')}`);
  }
  aptGet(['update', '-qq']);
  aptGet(['install', '-y', '-qq', ...packages]);
  if (packages.includes('etcd-server')) {
    // Debian's package may start a system etcd on the default ports; the tests start their own
    // on other ports and want the machine to themselves.
    spawnSync('sh', ['-c', 'systemctl stop etcd || service etcd stop'], {
      stdio: 'ignore',
      timeout: 60_000,
    });
  }
  missing = missingTools(wanted);
  if (missing.length > 0) {
    fail(`still missing after apt-get install ${packages.join(' ')}: ${missing.join(', ')}`);
  }
  const tookMs = performance.now() - installStartMs;
  say(`installed ${packages.join(' ')} in ${seconds(tookMs)}`);
  return tookMs;
}

/** Compiles src/ to dist/ (incremental); stops with tsc's output if it fails. */
function build() {
  const t0 = performance.now();
  // An incremental build trusts its build info: without the outputs it would emit nothing.
  if (!existsSync(join(repoRoot, 'dist/cli/main.js')))
    rmSync(join(repoRoot, 'dist/.tsbuildinfo'), { force: true });
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(repoRoot, 'tsconfig.build.json')], {
    encoding: 'utf8',
    timeout: buildTimeoutMs,
  });
  if (result.status !== 0) {
    process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}`);
    fail(
      `build failed (tsc -p tsconfig.build.json: ${result.error?.message ?? `exit ${result.status}`})`,
    );
  }
  const tookMs = performance.now() - t0;
  say(`build (tsc -p tsconfig.build.json, incremental) ${seconds(tookMs)}`);
  return tookMs;
}

function readSummary(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The closing lines; the last one is what CI reads. Returns the exit code. */
function close(summary, childStatus, timings) {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  if (summary === undefined) {
    out('');
    out(`run-tests: the reporter wrote no summary (node --test exited ${childStatus})`);
    out(`wall time: ${seconds(performance.now() - startedMs)}`);
    out('tests: 0 passed, 1 failed');
    return 1;
  }
  const problems = [];
  if (summary.tests === 0) problems.push('no test ran');
  if (summary.failed > 0) problems.push(`${summary.failed} failed`);
  if ((summary.nodeTotals.fail ?? 0) > summary.failed)
    problems.push(`node counted ${summary.nodeTotals.fail} failures`);
  if (childStatus !== 0) problems.push(`node --test exited ${childStatus}`);
  const slowest = [...summary.files]
    .sort((a, b) => (b.durationMs ?? 0) - (a.durationMs ?? 0))
    .slice(0, slowestShown);
  out('');
  out(`slowest ${slowest.length === 1 ? 'file' : `${slowest.length} files`}:`);
  for (const file of slowest) {
    out(`  ${((file.durationMs ?? 0) / 1000).toFixed(1).padStart(6)} s  ${file.path}`);
  }
  const failedFiles = summary.files.filter((f) => !f.ok);
  if (failedFiles.length > 0) {
    out('');
    out('failed:');
    for (const file of failedFiles) {
      for (const name of file.failures) out(`  ${file.path} › ${name}`);
    }
  }
  out('');
  out(
    `files: ${summary.files.length} (${summary.files.length - failedFiles.length} ok, ${failedFiles.length} failed); ` +
      `install ${seconds(timings.installMs)}, build ${seconds(timings.buildMs)}, tests ${seconds(timings.testMs)}`,
  );
  out(`wall time: ${seconds(performance.now() - startedMs)}`);
  out(problems.length === 0 ? 'result: all passed' : `result: FAILED (${problems.join('; ')})`);
  const skipped = summary.skipped > 0 ? `, ${summary.skipped} skipped` : '';
  out(
    `tests: ${summary.passed} passed, ${Math.max(summary.failed, problems.length > 0 ? 1 : 0)} failed${skipped}`,
  );
  return problems.length === 0 ? 0 : 1;
}

function main() {
  const args = process.argv.slice(2);
  const installAllowed =
    !args.includes('--no-install') && process.env['QUORATE_TEST_SKIP_INSTALL'] !== '1';
  const isQuick = args.includes('--quick');
  const roots = args.filter((a) => !a.startsWith('--'));
  const unknown = args.filter((a) => a.startsWith('--') && a !== '--quick' && a !== '--no-install');
  if (unknown.length > 0) fail(`unknown option ${unknown.join(' ')}`);
  if (isQuick && roots.length > 0) fail('--quick takes no directories or files');
  const selected = isQuick
    ? quick.roots.map((root) => join(repoRoot, root))
    : roots.length > 0
      ? roots.map((root) => resolve(root))
      : [join(repoRoot, 'test')];
  const files = selected
    .flatMap((root) => collect(root, []))
    .filter((file) => !(isQuick && quick.slow.includes(file)));
  if (files.length === 0)
    fail(`no test files under ${selected.map((r) => relative(repoRoot, r)).join(', ')}`);
  const installMs = ensureRequirements(files, installAllowed);
  const buildMs = build();
  say(`${files.length} test ${files.length === 1 ? 'file' : 'files'}, 2 at a time`);
  const summaryDir = mkdtempSync(join(tmpdir(), 'quorate-test-summary-'));
  const summaryPath = join(summaryDir, 'summary.json');
  const testStartMs = performance.now();
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      join(repoRoot, 'scripts/test-file-marker.mjs'),
      '--test',
      '--test-concurrency=2',
      `--test-reporter=${join(repoRoot, 'scripts/test-reporter.mjs')}`,
      ...files,
    ],
    {
      cwd: repoRoot,
      stdio: 'inherit',
      env: { ...process.env, QUORATE_TEST_SUMMARY: summaryPath },
    },
  );
  const testMs = performance.now() - testStartMs;
  const summary = readSummary(summaryPath);
  rmSync(summaryDir, { recursive: true, force: true });
  const status = child.status ?? `signal ${child.signal}`;
  process.exitCode = close(summary, status, { installMs, buildMs, testMs });
}

main();
