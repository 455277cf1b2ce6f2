import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { runPolicyCommand } from '../../src/cli/policy-command.ts';

interface Run {
  code: number;
  out: string[];
  err: string[];
  written: Map<string, string>;
}

const root = new URL('../../', import.meta.url);

/** Runs the command in-process with files from the repo (or `extra` in-memory files). */
async function run(argv: string[], extra: Record<string, string> = {}): Promise<Run> {
  const result: Run = { code: -1, out: [], err: [], written: new Map() };
  result.code = await runPolicyCommand(argv, {
    out: (line) => result.out.push(line),
    err: (line) => result.err.push(line),
    readFile: async (path) => extra[path] ?? (await readFile(new URL(path, root), 'utf8')),
    writeFile: (path, text) => {
      result.written.set(path, text);
      return Promise.resolve();
    },
  });
  return result;
}

function oneJsonLine(r: Run): Record<string, unknown> {
  assert.equal(r.out.length, 1, 'exactly one JSON line');
  return JSON.parse(r.out[0] as string) as Record<string, unknown>;
}

void describe('quorate policy analyze', () => {
  void it('--json prints one line with every issue field per policy', async () => {
    const r = await run([
      'analyze',
      'examples/policies/reference-two-backends-one-region.yaml',
      '--json',
    ]);
    assert.equal(r.code, 0);
    const policies = oneJsonLine(r)['policies'] as Record<string, unknown>[];
    assert.equal(policies.length, 3);
    const fields = [
      'id',
      'threshold',
      'n',
      'availability',
      'downtimeMinutesPerMonth',
      'meetsSlo',
      'outagesPerMonth',
      'meanOutageMinutes',
      'pMonthBreachesSlo',
      'p95DowntimeMinutesPerMonth',
      'custodial',
      'custodialDomains',
      'minCollidingDomains',
      'lossTolerance',
      'quorumIntersection',
      'unenforcedQuorumShare',
      'downtimeByCause',
    ];
    for (const p of policies) for (const f of fields) assert.ok(f in p, `missing ${f}`);
    const [oneRegion, twoRegions, mixed] = policies as [
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    assert.equal(oneRegion['custodial'], true);
    assert.deepEqual(oneRegion['custodialDomains'], ['operator']);
    assert.equal(mixed['custodial'], false);
    // The shared region makes the one-region pair less available than the split pair.
    assert.ok((oneRegion['availability'] as number) < (twoRegions['availability'] as number));
    const causes = oneRegion['downtimeByCause'] as { kind: string; id: string }[];
    assert.deepEqual(causes[0], { ...causes[0], kind: 'group', id: 'region-1' });
  });

  void it('runs the Monte Carlo only where time structure is given, with a fixed seed', async () => {
    const r = await run(['analyze', 'examples/policies/timed-2of3.yaml', '--json']);
    assert.equal(r.code, 0);
    const [p] = oneJsonLine(r)['policies'] as Record<string, unknown>[];
    assert.ok(p !== undefined);
    assert.equal(typeof p['pMonthBreachesSlo'], 'number');
    assert.equal(typeof p['p95DowntimeMinutesPerMonth'], 'number');
    assert.equal((p['monteCarlo'] as { seed: number }).seed, 42);
    // Maintenance aligned with the phone's offline hours: simulation below the independence model.
    assert.ok(
      (p['monteCarlo'] as { meanAvailability: number }).meanAvailability <
        (p['availability'] as number),
    );
    const plain = oneJsonLine(
      await run(['analyze', 'examples/policies/retail-2of3.yaml', '--json']),
    );
    const [q] = plain['policies'] as Record<string, unknown>[];
    assert.equal(q?.['pMonthBreachesSlo'], null);
    assert.equal(typeof q?.['outagesPerMonth'], 'number');
  });

  void it('every example policy file analyzes cleanly', async () => {
    for (const name of [
      'retail-2of3',
      'pro',
      'institutional-3of5',
      'reference-mobile-backend-guardian',
      'reference-two-backends-one-region',
      'reference-3of5-two-phones-one-os',
    ]) {
      const r = await run(['analyze', `examples/policies/${name}.yaml`]);
      assert.equal(r.code, 0, `${name}: ${r.err.join('\n')}`);
      assert.match(r.out.join('\n'), /availability exact/);
    }
  });

  void it('--html writes a self-contained report with the three charts', async () => {
    const r = await run([
      'analyze',
      'examples/policies/reference-two-backends-one-region.yaml',
      '--html',
      'out/report.html',
      '--json',
    ]);
    assert.equal(r.code, 0);
    assert.equal(r.out.length, 1, 'stdout stays one JSON line');
    const html = r.written.get('out/report.html');
    assert.ok(html !== undefined);
    assert.equal(
      (html.match(/<svg /g) ?? []).length,
      2 + 3,
      'heatmap, scatter and one bar chart per policy',
    );
    assert.doesNotMatch(html, /<script|<link|@import|src=|href=|url\(/i);
    assert.match(html, /minCollidingDomains/);
    assert.match(html, /custodial/);
  });

  void it('an invalid file exits 1 with CODE: path: problem', async () => {
    const bad =
      'shares:\n  - { id: a, type: backend, domain: d, availability: 0.9 }\npolicies:\n  - { id: p, threshold: 2, shares: [a, ghost] }\n';
    const r = await run(['analyze', 'bad.yaml'], { 'bad.yaml': bad });
    assert.equal(r.code, 1);
    assert.deepEqual(r.err, [
      "QUORATE_E_POLICY_INVALID: policies[0].shares[1]: unknown share 'ghost'",
    ]);
    assert.deepEqual(r.out, []);
  });

  void it('a missing file exits 1 with QUORATE_E_CONFIG', async () => {
    const r = await run(['analyze', 'examples/policies/does-not-exist.yaml']);
    assert.equal(r.code, 1);
    assert.match(
      r.err[0] ?? '',
      /^QUORATE_E_CONFIG: examples\/policies\/does-not-exist.yaml: cannot read \(ENOENT\)$/,
    );
  });

  void it('usage errors exit 2', async () => {
    for (const argv of [
      [],
      ['analyze'],
      ['analyze', 'a.yaml', 'b.yaml'],
      ['frobnicate', 'x'],
      ['analyze', 'x.yaml', '--bogus'],
      ['analyze', 'x.yaml', '--html'],
      ['recommend', 'x.yaml', '--n-min', 'three'],
    ]) {
      const r = await run(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.ok(r.err.some((l) => l.includes('usage:')));
    }
  });
});

void describe('quorate policy recommend', () => {
  void it('--json with --n-min/--n-max and --require-non-custodial', async () => {
    const r = await run([
      'recommend',
      'examples/policies/reference-two-backends-one-region.yaml',
      '--json',
      '--n-min',
      '3',
      '--n-max',
      '4',
      '--require-non-custodial',
    ]);
    assert.equal(r.code, 0);
    const result = oneJsonLine(r);
    assert.equal(result['nMin'], 3);
    assert.equal(result['nMax'], 4);
    assert.equal(result['requireNonCustodial'], true);
    const picks = result['picks'] as { custodial: boolean; n: number; explanation: string }[];
    for (const p of picks) {
      assert.equal(p.custodial, false);
      assert.ok(p.n >= 3 && p.n <= 4);
      assert.equal(typeof p.explanation, 'string');
    }
  });

  void it('human output lists ranked picks with explanations', async () => {
    const r = await run(['recommend', 'examples/policies/institutional-3of5.yaml']);
    assert.equal(r.code, 0);
    assert.match(r.out.join('\n'), /^1\. \d-of-\d on .*chosen as .*\.$/m);
  });
});

void describe('quorate policy calibrate', () => {
  void it('--json and --out: fits per share and group, and a policy file analyze accepts', async () => {
    const r = await run([
      'calibrate',
      'examples/telemetry/sample.jsonl',
      '--json',
      '--out',
      'calibrated.yaml',
    ]);
    assert.equal(r.code, 0);
    const result = oneJsonLine(r);
    assert.deepEqual(
      (result['shares'] as { id: string }[]).map((s) => s.id),
      ['mobile', 'backend-a', 'backend-b', 'guardian'],
    );
    assert.deepEqual(
      (result['groups'] as { id: string }[]).map((g) => g.id),
      ['cloud-region'],
    );
    const yaml = r.written.get('calibrated.yaml');
    assert.ok(yaml !== undefined);
    const analyzed = await run(['analyze', 'calibrated.yaml', '--json'], {
      'calibrated.yaml': yaml,
    });
    assert.equal(analyzed.code, 0, analyzed.err.join('\n'));
  });

  void it('without --out prints the policy YAML on stdout and the table on stderr', async () => {
    const r = await run(['calibrate', 'examples/telemetry/sample.jsonl']);
    assert.equal(r.code, 0);
    assert.match(r.out.join('\n'), /^shares:$/m);
    assert.match(r.err.join('\n'), /group cloud-region/);
  });

  void it('bad telemetry exits 1 naming the line', async () => {
    const r = await run(['calibrate', 't.jsonl'], {
      't.jsonl': '{"t": 1, "partyId": "p", "state": "up"}\n{"t": 2}\n',
    });
    assert.equal(r.code, 1);
    assert.match(r.err[0] ?? '', /^QUORATE_E_POLICY_INVALID: line 2\.state: /);
  });
});
