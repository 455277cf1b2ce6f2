/**
 * The self-contained offline HTML report of `policy analyze --html`: inline CSS and inline SVG
 * only, no scripts, fonts or external references.
 */
import type { FileAnalysis, PolicyAnalysis } from './analyze-policy.ts';
import { indexPolicyFile } from './compile-placement.ts';
import { custodyPosture } from './custody-posture.ts';
import { ninesOf } from './nines.ts';
import { enumeratePlacements } from './placement-search.ts';
import type { PolicyFile } from './policy-schema.ts';
import { causeBarsSvg, escapeXml, heatmapSvg, paretoSvg, type ScatterPoint } from './svg-charts.ts';

const style = `body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td:first-child{text-align:left}.bad{color:#b00}.ok{color:#070}
h2{margin-top:2em}figure{margin:1em 0}figcaption{color:#555;font-size:90%}`;

/** Scatter points: the enumerated landscape (small) and the file's policies (large, labelled). */
function scatterPoints(file: PolicyFile, analysis: FileAnalysis): ScatterPoint[] {
  const points: ScatterPoint[] = [];
  const pool = analysis.heatmap?.pool ?? [];
  if (analysis.heatmap !== null) {
    for (const placement of enumeratePlacements(
      indexPolicyFile(file),
      pool,
      1,
      analysis.heatmap.nMax,
      'recommend.candidates',
    )) {
      for (let t = 1; t <= placement.shares.length; t++) {
        const posture = custodyPosture(placement.shares, t);
        const label = `${t}-of-${placement.shares.length} ${placement.shares.map((s) => s.id).join(',')}`;
        points.push({
          label,
          nines: ninesOf(placement.unavailabilityByThreshold[t] as number),
          minCollidingDomains: posture.minCollidingDomains,
          custodial: posture.custodial,
          highlighted: false,
        });
      }
    }
  }
  for (const p of analysis.policies) {
    points.push({
      label: p.id,
      nines: p.nines,
      minCollidingDomains: p.minCollidingDomains,
      custodial: p.custodial,
      highlighted: true,
    });
  }
  return points;
}

function yesNo(value: boolean): string {
  return value ? '<span class="ok">yes</span>' : '<span class="bad">no</span>';
}

function policyRow(p: PolicyAnalysis): string {
  const cells = [
    escapeXml(p.id),
    `${p.threshold}-of-${p.n}`,
    p.availability.toFixed(6),
    p.nines.toFixed(2),
    p.downtimeMinutesPerMonth.toFixed(1),
    yesNo(p.meetsSlo),
    p.outagesPerMonth === null ? '–' : p.outagesPerMonth.toFixed(3),
    p.pMonthBreachesSlo === null ? '–' : p.pMonthBreachesSlo.toFixed(3),
    p.custodial
      ? `<span class="bad">yes (${escapeXml(p.custodialDomains.join(', '))})</span>`
      : 'no',
    String(p.minCollidingDomains),
    `${p.lossTolerance.shares} / ${p.lossTolerance.domains}`,
    yesNo(p.quorumIntersection),
    `${(p.unenforcedQuorumShare * 100).toFixed(0)} %`,
  ];
  return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
}

/** Builds the report. `title` is escaped. */
export function buildHtmlReport(file: PolicyFile, analysis: FileAnalysis, title: string): string {
  const headers = [
    'policy',
    't-of-n',
    'availability',
    'nines',
    'down min/month',
    'meets SLO',
    'outages/month',
    'P(month breaches SLO)',
    'custodial',
    'min colluding domains',
    'loss tolerance shares / domains',
    '2t > n',
    'unenforced quorums',
  ];
  const heatmap =
    analysis.heatmap === null
      ? `<p>${escapeXml(analysis.heatmapNote ?? 'no heatmap')}</p>`
      : `<figure>${heatmapSvg(analysis.heatmap)}<figcaption>Best exact nines of t-of-n over every placement of n shares from ${escapeXml(analysis.heatmap.pool.join(', '))}.</figcaption></figure>`;
  const causes = analysis.policies
    .map(
      (p) =>
        `<h3>${escapeXml(p.id)}</h3><figure>${causeBarsSvg(p.downtimeByCause)}<figcaption>Monthly downtime removed if the component never failed (causes overlap).</figcaption></figure>`,
    )
    .join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title><style>${style}</style></head>
<body><h1>${escapeXml(title)}</h1>
<p>SLO ${analysis.slo} per 30-day month (43 200 minutes). Availability is exact (sum over group states of a Poisson-binomial DP).</p>
<table><tr>${headers.map((h) => `<th>${h}</th>`).join('')}</tr>${analysis.policies.map(policyRow).join('')}</table>
<h2>t × n heatmap of nines</h2>${heatmap}
<h2>Availability against collusion resistance</h2>
<figure>${paretoSvg(scatterPoints(file, analysis))}<figcaption>Blue circles: non-custodial; red crosses: custodial (one domain holds t shares). Large labelled marks are the file's policies.</figcaption></figure>
<h2>Downtime by cause</h2>${causes}
</body></html>
`;
}
