/**
 * `report.html`: one self-contained page (no external URL: d3 and Observable Plot are inlined
 * from node_modules) with the checker's verdict, the figures, a timeline of requests coloured by
 * outcome with fault windows shaded and party states underneath, a latency histogram, and
 * per-window availability.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { HistoryEvent } from '../checker/history.ts';
import type { RunMetrics, Violation } from '../checker/types.ts';
import type { WindowReport } from '../checker/windows.ts';
import { operations } from '../checker/check.ts';
import type { Schedule } from './schedule.ts';
import type { ChaosSummary } from './summary.ts';

/** Everything the page shows. */
export interface ReportInput {
  summary: ChaosSummary;
  schedule: Schedule;
  history: readonly HistoryEvent[];
  violations: readonly Violation[];
  windows: WindowReport;
  metrics: RunMetrics;
}

/** The data embedded in the page (plain JSON; times in seconds from the workload start). */
export interface ReportData {
  summary: ChaosSummary;
  verdict: 'pass' | 'fail';
  violations: { invariant: string; message: string; detail: string }[];
  requests: {
    id: string;
    t: number;
    latencyMs: number;
    outcome: string;
    code: string;
    tryNo: number;
  }[];
  faults: {
    id: string;
    kind: string;
    description: string;
    start: number;
    end: number;
    requests: number;
    availability: number | null;
  }[];
  states: { party: string; state: string; start: number; end: number }[];
  endS: number;
  parties: string[];
}

const outcomeOf = (type: string | undefined, code: string | undefined): string => {
  if (type === 'ok') return 'ok';
  if (type === 'info') return 'info (coordinator unreachable)';
  if (code === 'QUORATE_E_INTENT_CONFLICT') return 'refused (intent conflict)';
  if (code === 'QUORATE_E_QUORUM_UNAVAILABLE') return 'fail fast (quorum unavailable)';
  return type === undefined ? 'never completed' : 'fail';
};

/** Turns a run into the page's data (pure). */
export function reportData(input: ReportInput): ReportData {
  const s = (ms: number) => Math.round(ms) / 1000;
  const lastMs = Math.max(input.schedule.durationMs, ...input.history.map((e) => e.timeMs));
  const requests = operations(input.history).map((o) => ({
    id: o.invoke.requestId,
    t: s(o.invokeMs),
    latencyMs: Math.round((o.completeMs ?? lastMs) - o.invokeMs),
    outcome: outcomeOf(o.type, o.result?.code),
    code: o.result?.code ?? '',
    tryNo: o.invoke.try,
  }));
  const faults = input.windows.windows
    .filter((w) => w.id !== 'steady')
    .map((w) => ({
      id: w.id,
      kind: w.kind,
      description: input.schedule.windows.find((x) => x.id === w.id)?.description ?? w.kind,
      start: s(w.startMs),
      end: s(Number.isFinite(w.endMs) ? w.endMs : lastMs),
      requests: w.requests,
      availability: w.availability,
    }));
  const states: ReportData['states'] = [];
  const open = new Map<string, { state: string; start: number }>();
  for (const e of input.history) {
    if (e.process !== 'monitor' || e.f !== 'party-state') continue;
    const prev = open.get(e.value.partyId);
    if (prev)
      states.push({
        party: e.value.partyId,
        state: prev.state,
        start: prev.start,
        end: s(e.timeMs),
      });
    open.set(e.value.partyId, { state: e.value.state, start: s(e.timeMs) });
  }
  for (const [party, prev] of open)
    states.push({ party, state: prev.state, start: prev.start, end: s(lastMs) });
  return {
    summary: input.summary,
    verdict: input.violations.length === 0 ? 'pass' : 'fail',
    violations: input.violations.slice(0, 200).map((v) => ({
      invariant: v.invariant,
      message: v.message,
      detail: JSON.stringify(v.detail).slice(0, 400),
    })),
    requests,
    faults,
    states,
    endS: s(lastMs),
    parties: input.schedule.parties,
  };
}

const require = createRequire(import.meta.url);

/** A file inside an installed package (its `exports` do not list the UMD bundles). */
function packageFile(name: string, file: string): string {
  let dir = dirname(require.resolve(name));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, file)))
      return join(dir, file);
    dir = dirname(dir);
  }
  throw new Error(`cannot find ${name}/${file}`);
}

/** The bundled libraries' source. */
function libraries(): string {
  const d3 = readFileSync(packageFile('d3', 'dist/d3.min.js'), 'utf8');
  const plot = readFileSync(packageFile('@observablehq/plot', 'dist/plot.umd.min.js'), 'utf8');
  // Inline scripts end at the first "</script" whatever the JS context.
  return [d3, plot]
    .map((src) => `<script>${src.replace(/<\/script/gi, '<\\/script')}</script>`)
    .join('\n');
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON safe inside a <script> element. */
const scriptJson = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

const fmt = (v: number | null, unit = ''): string => (v === null ? '—' : `${v}${unit}`);

function summaryTable(d: ReportData): string {
  const s = d.summary;
  const rows: [string, string][] = [
    ['requests', String(s.requests)],
    ['signed (ok)', String(s.ok)],
    ['not signed (failed)', String(s.failed)],
    ['availability', s.availability === null ? '—' : `${(s.availability * 100).toFixed(2)} %`],
    ['detection p50', fmt(s.detectionMsP50, ' ms')],
    ['time to explicit failure p50', fmt(s.failFastMsP50, ' ms')],
    ['recovery after heal p50', fmt(s.recoveryMsP50, ' ms')],
    ['latency p50 / p99', `${fmt(s.latencyMsP50, ' ms')} / ${fmt(s.latencyMsP99, ' ms')}`],
    ['violations', String(s.violations)],
  ];
  return `<table class="kv">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;
}

function faultTable(d: ReportData): string {
  if (d.faults.length === 0) return '<p>No fault window.</p>';
  const rows = d.faults
    .map(
      (f) =>
        `<tr><td>${escapeHtml(f.id)}</td><td>${escapeHtml(f.kind)}</td><td>${escapeHtml(f.description)}</td><td>${f.start.toFixed(1)}–${f.end.toFixed(1)} s</td><td>${f.requests}</td><td>${f.availability === null ? '—' : `${(f.availability * 100).toFixed(1)} %`}</td></tr>`,
    )
    .join('');
  return `<table><tr><th>id</th><th>kind</th><th>what</th><th>window</th><th>requests</th><th>availability</th></tr>${rows}</table>`;
}

function verdictBlock(d: ReportData): string {
  if (d.verdict === 'pass')
    return '<div class="verdict pass">PASS: no invariant violated (I1–I6 checked over the history, the parties\' journals and the store)</div>';
  const rows = d.violations
    .map(
      (v) =>
        `<tr><td>${escapeHtml(v.invariant)}</td><td>${escapeHtml(v.message)}</td><td><code>${escapeHtml(v.detail)}</code></td></tr>`,
    )
    .join('');
  return `<div class="verdict fail">FAIL: ${d.summary.violations} violation(s)</div><table><tr><th>invariant</th><th>message</th><th>detail</th></tr>${rows}</table>`;
}

const chartScript = `
const data = JSON.parse(document.getElementById('report-data').textContent);
const colors = {
  'ok': '#2e7d32', 'fail': '#c62828', 'fail fast (quorum unavailable)': '#ef6c00',
  'refused (intent conflict)': '#6a1b9a', 'info (coordinator unreachable)': '#757575',
  'never completed': '#000000',
};
const outcomes = Object.keys(colors);
const stateColors = { alive: '#66bb6a', suspect: '#ffa726', down: '#e53935' };
const faultMarks = (y1, y2) => [
  Plot.rectX(data.faults, { x1: 'start', x2: 'end', y1, y2, fill: '#90a4ae', fillOpacity: 0.25 }),
  Plot.text(data.faults, { x: 'start', y: y2, text: (f) => f.id + ' ' + f.kind, dx: 3, dy: 8, textAnchor: 'start', fontSize: 10, fill: '#37474f' }),
];
const maxLatency = Math.max(100, ...data.requests.map((r) => r.latencyMs));
document.getElementById('timeline').append(Plot.plot({
  width: 1100, height: 340, marginLeft: 60,
  x: { label: 'time since workload start (s)', domain: [0, data.endS] },
  y: { label: 'latency (ms)', domain: [0, maxLatency * 1.1], grid: true },
  color: { legend: true, domain: outcomes, range: outcomes.map((o) => colors[o]) },
  marks: [
    ...faultMarks(0, maxLatency * 1.1),
    Plot.dot(data.requests, { x: 't', y: 'latencyMs', fill: 'outcome', r: 3, title: (r) => r.id + ' try ' + r.tryNo + ': ' + r.outcome + ' ' + r.code + ' ' + r.latencyMs + ' ms' }),
  ],
}));
document.getElementById('states').append(Plot.plot({
  width: 1100, height: 60 + 28 * data.parties.length, marginLeft: 60,
  x: { label: 'time since workload start (s)', domain: [0, data.endS] },
  y: { label: 'party', domain: data.parties },
  color: { legend: true, domain: Object.keys(stateColors), range: Object.values(stateColors) },
  marks: [
    Plot.barX(data.states, { x1: 'start', x2: 'end', y: 'party', fill: 'state', title: (s) => s.party + ' ' + s.state }),
    Plot.rectX(data.faults, { x1: 'start', x2: 'end', fill: '#263238', fillOpacity: 0.12 }),
  ],
}));
document.getElementById('histogram').append(Plot.plot({
  width: 1100, height: 280, marginLeft: 60,
  x: { label: 'latency (ms)' }, y: { label: 'tries', grid: true },
  color: { legend: true, domain: outcomes, range: outcomes.map((o) => colors[o]) },
  marks: [Plot.rectY(data.requests, Plot.binX({ y: 'count' }, { x: 'latencyMs', fill: 'outcome', thresholds: 40 })), Plot.ruleY([0])],
}));
`;

/** Builds the whole page. */
export function buildReportHtml(input: ReportInput): string {
  const d = reportData(input);
  const title = `Quorate chaos: ${d.summary.scenario} (seed ${d.summary.seed})`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #212121; max-width: 1160px; }
table { border-collapse: collapse; margin: 8px 0 16px; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
table.kv th { background: #f5f5f5; width: 260px; }
.verdict { padding: 10px 14px; font-weight: 600; border-radius: 4px; margin: 12px 0; }
.verdict.pass { background: #e8f5e9; color: #1b5e20; } .verdict.fail { background: #ffebee; color: #b71c1c; }
code { font-size: 12px; word-break: break-all; } h2 { margin-top: 28px; }
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>${d.parties.length} parties, threshold ${input.schedule.threshold}, ${input.schedule.durationMs / 1000} s of workload. Shaded bands are fault windows.</p>
${verdictBlock(d)}
${summaryTable(d)}
<h2>Requests over time (each try, coloured by outcome)</h2><div id="timeline"></div>
<h2>Party states seen by the coordinator (GET /v1/parties)</h2><div id="states"></div>
<h2>Latency histogram</h2><div id="histogram"></div>
<h2>Fault windows</h2>${faultTable(d)}
<script type="application/json" id="report-data">${scriptJson(d)}</script>
${libraries()}
<script>${chartScript}</script>
</body></html>
`;
}
