/**
 * Inline SVG charts for the HTML report: the t×n heatmap of nines, the Pareto scatter of nines
 * against minCollidingDomains, and downtime-by-cause bars. Plain strings, no external assets.
 */
import type { CauseContribution } from './analyze-policy.ts';
import type { Heatmap } from './heatmap.ts';

/** Escapes text for HTML and SVG content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** Red (0 nines) through yellow to green (≥ 5 nines). */
function ninesColour(nines: number): string {
  const x = Math.max(0, Math.min(1, nines / 5));
  const hue = Math.round(x * 120);
  return `hsl(${hue}, 70%, ${Math.round(55 + 10 * x)}%)`;
}

/** Heatmap: rows t, columns n; each cell the best nines of t-of-n over the pool. */
export function heatmapSvg(heatmap: Heatmap): string {
  const size = 56;
  const left = 40;
  const top = 30;
  const n = Math.max(1, heatmap.nMax);
  const width = left + n * size + 10;
  const height = top + n * size + 10;
  const parts: string[] = [];
  for (let k = 1; k <= n; k++) {
    parts.push(
      `<text x="${left + (k - 0.5) * size}" y="${top - 10}" text-anchor="middle">n=${k}</text>`,
    );
    parts.push(
      `<text x="${left - 6}" y="${top + (k - 0.5) * size + 4}" text-anchor="end">t=${k}</text>`,
    );
  }
  for (const cell of heatmap.cells) {
    const x = left + (cell.n - 1) * size;
    const y = top + (cell.t - 1) * size;
    const title = `${cell.t}-of-${cell.n}: ${cell.nines.toFixed(2)} nines on ${cell.shares.join(', ')}`;
    parts.push(
      `<g><title>${escapeXml(title)}</title><rect x="${x}" y="${y}" width="${size - 2}" height="${size - 2}" fill="${ninesColour(cell.nines)}"/>` +
        `<text x="${x + size / 2 - 1}" y="${y + size / 2 + 4}" text-anchor="middle">${cell.nines.toFixed(1)}</text></g>`,
    );
  }
  return svg(width, height, parts, 'Heatmap of nines by threshold t and share count n');
}

/** A point of the Pareto scatter. */
export interface ScatterPoint {
  readonly label: string;
  readonly nines: number;
  readonly minCollidingDomains: number;
  readonly custodial: boolean;
  /** File policies are drawn large and labelled; enumerated placements small. */
  readonly highlighted: boolean;
}

/** Scatter of nines (y) against minCollidingDomains (x); custodial points are red crosses. */
export function paretoSvg(points: readonly ScatterPoint[]): string {
  const width = 560;
  const height = 340;
  const left = 50;
  const bottom = 40;
  const xMax = Math.max(2, ...points.map((p) => p.minCollidingDomains)) + 0.5;
  const yMax = Math.max(1, Math.ceil(Math.max(...points.map((p) => p.nines), 0)));
  const px = (x: number): number => left + (x / xMax) * (width - left - 20);
  const py = (y: number): number => height - bottom - (y / yMax) * (height - bottom - 20);
  const parts: string[] = [
    `<line x1="${left}" y1="${py(0)}" x2="${width - 10}" y2="${py(0)}" stroke="#333"/>`,
    `<line x1="${left}" y1="${py(0)}" x2="${left}" y2="10" stroke="#333"/>`,
    `<text x="${(width + left) / 2}" y="${height - 6}" text-anchor="middle">minCollidingDomains</text>`,
    `<text x="14" y="${height / 2}" transform="rotate(-90 14 ${height / 2})" text-anchor="middle">nines</text>`,
  ];
  for (let x = 1; x < xMax; x++)
    parts.push(`<text x="${px(x)}" y="${py(0) + 16}" text-anchor="middle">${x}</text>`);
  for (let y = 0; y <= yMax; y++)
    parts.push(`<text x="${left - 6}" y="${py(y) + 4}" text-anchor="end">${y}</text>`);
  points.forEach((p, i) => {
    // Deterministic horizontal spread so equal points stay visible.
    const x = px(p.minCollidingDomains + (((i * 37) % 21) - 10) / 60);
    const y = py(p.nines);
    const r = p.highlighted ? 6 : 3;
    const title = `<title>${escapeXml(`${p.label}: ${p.nines.toFixed(2)} nines, ${p.minCollidingDomains} colluding domains${p.custodial ? ', custodial' : ''}`)}</title>`;
    const mark = p.custodial
      ? `<path d="M${x - r} ${y - r}L${x + r} ${y + r}M${x - r} ${y + r}L${x + r} ${y - r}" stroke="#c0392b" stroke-width="${p.highlighted ? 3 : 1.5}"/>`
      : `<circle cx="${x}" cy="${y}" r="${r}" fill="${p.highlighted ? '#1f5fbf' : '#8fb3e8'}"/>`;
    const label = p.highlighted
      ? `<text x="${x + 9}" y="${y - 6}">${escapeXml(p.label)}</text>`
      : '';
    parts.push(`<g>${title}${mark}${label}</g>`);
  });
  return svg(width, height, parts, 'Pareto scatter of availability against collusion resistance');
}

/** Horizontal bars: minutes per month each cause adds. */
export function causeBarsSvg(causes: readonly CauseContribution[]): string {
  const rowHeight = 22;
  const left = 170;
  const width = 560;
  const height = 10 + rowHeight * Math.max(1, causes.length);
  const max = Math.max(1e-9, ...causes.map((c) => c.minutesPerMonth));
  const parts = causes.map((c, i) => {
    const y = 5 + i * rowHeight;
    const barWidth = Math.max(1, ((width - left - 90) * c.minutesPerMonth) / max);
    const colour = c.kind === 'group' ? '#d35400' : '#2c7fb8';
    return (
      `<text x="${left - 6}" y="${y + 15}" text-anchor="end">${escapeXml(`${c.kind} ${c.id}`)}</text>` +
      `<rect x="${left}" y="${y + 3}" width="${barWidth}" height="${rowHeight - 6}" fill="${colour}"/>` +
      `<text x="${left + barWidth + 6}" y="${y + 15}">${c.minutesPerMonth.toFixed(1)} min</text>`
    );
  });
  if (causes.length === 0) parts.push(`<text x="10" y="20">no downtime</text>`);
  return svg(width, height, parts, 'Downtime by cause, minutes per month');
}

function svg(width: number, height: number, parts: readonly string[], label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(label)}" font-family="sans-serif" font-size="12">${parts.join('')}</svg>`;
}
