/** The report builder, the summary line and the checker's per-window figures (pure). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRun, defaultCheckOptions } from '../../src/checker/check.ts';
import type { HistoryEvent, NewHistoryEvent } from '../../src/checker/history.ts';
import { measureWindows, percentile } from '../../src/checker/windows.ts';
import { buildReportHtml, reportData } from '../../src/chaos/report.ts';
import { orderHistory } from '../../src/chaos/run-scenario.ts';
import { planSchedule } from '../../src/chaos/schedule.ts';
import { buildSummary, combineSummaries } from '../../src/chaos/summary.ts';

const wallet = {
  walletId: 'w1',
  scheme: 'ed25519' as const,
  threshold: 2,
  parties: ['p1', 'p2', 'p3'],
  publicKey: '00'.repeat(32),
};

/** A small history: two signs (one in the fault window fails fast), one intent conflict. */
function sampleHistory(): HistoryEvent[] {
  const sign = (
    id: string,
    at: number,
    done: number,
    type: 'ok' | 'fail',
    code?: string,
  ): NewHistoryEvent[] => [
    {
      process: `client-${id}`,
      type: 'invoke',
      f: 'sign',
      timeMs: at,
      value: {
        requestId: id,
        walletId: 'w1',
        intentKey: `k-${id}`,
        messageHex: 'aa',
        deadlineMs: 5_000,
        try: 0,
      },
    },
    {
      process: `client-${id}`,
      type,
      f: 'sign',
      timeMs: done,
      value: { requestId: id, sessionId: `s-${id}`, ...(code === undefined ? {} : { code }) },
    },
  ];
  const events: NewHistoryEvent[] = [
    ...sign('r0', 100, 140, 'fail', 'QUORATE_E_PROTOCOL_ABORT'),
    {
      process: 'nemesis',
      type: 'info',
      f: 'start',
      timeMs: 3_000,
      value: {
        id: 'f1',
        kind: 'pause',
        impaired: ['p1', 'p2'],
        detectable: true,
        description: 'pause p1, p2',
      },
    },
    {
      process: 'monitor',
      type: 'info',
      f: 'party-state',
      timeMs: 3_700,
      value: { partyId: 'p1', state: 'down' },
    },
    ...sign('r1', 4_000, 4_020, 'fail', 'QUORATE_E_QUORUM_UNAVAILABLE'),
    {
      process: 'nemesis',
      type: 'info',
      f: 'stop',
      timeMs: 6_000,
      value: {
        id: 'f1',
        kind: 'pause',
        impaired: ['p1', 'p2'],
        detectable: true,
        description: 'pause p1, p2',
      },
    },
    ...sign('r2', 7_000, 7_300, 'fail', 'QUORATE_E_INTENT_CONFLICT'),
  ];
  return orderHistory(events);
}

describe('measureWindows', () => {
  test('availability per fault window and outside them; latency percentiles', () => {
    const w = measureWindows(sampleHistory());
    const f1 = w.windows.find((x) => x.id === 'f1');
    assert.deepEqual([f1?.requests, f1?.served, f1?.availability], [1, 0, 0]);
    const steady = w.windows.find((x) => x.id === 'steady');
    assert.deepEqual([steady?.requests, steady?.served], [2, 1], 'conflict counts as served');
    assert.deepEqual(
      w.latenciesMs.sort((a, b) => a - b),
      [20, 40, 300],
    );
    assert.equal(w.latencyMsP50, 40);
    assert.equal(w.latencyMsP99, 300);
    assert.equal(percentile([], 50), null);
  });
});

describe('summary and report', () => {
  const history = sampleHistory();
  const report = checkRun(
    { history, wallets: [wallet], journals: [], observations: [], sessions: [], endMs: 8_000 },
    defaultCheckOptions,
  );
  const windows = measureWindows(history);
  const summary = buildSummary('pause', 7, history, report, windows);
  const schedule = planSchedule('pause', 7, 10_000);

  test("the summary has exactly the issue's fields, in order", () => {
    assert.deepEqual(Object.keys(summary), [
      'scenario',
      'seed',
      'requests',
      'ok',
      'failed',
      'violations',
      'availability',
      'detectionMsP50',
      'failFastMsP50',
      'recoveryMsP50',
      'latencyMsP50',
      'latencyMsP99',
    ]);
    assert.equal(summary.requests, 3);
    assert.equal(summary.ok, 0);
    assert.equal(summary.failed, 3);
    assert.equal(summary.detectionMsP50, 700);
    const all = combineSummaries(7, [
      {
        summary,
        served: 1,
        detectionMs: [700],
        failFastMs: [20],
        recoveryMs: [],
        latenciesMs: [20, 40, 300],
      },
    ]);
    assert.equal(all.scenario, 'all');
    assert.equal(all.recoveryMsP50, null);
  });

  test('reportData maps outcomes, fault windows and party-state spans', () => {
    const d = reportData({
      summary,
      schedule,
      history,
      violations: report.violations,
      windows,
      metrics: report.metrics,
    });
    assert.deepEqual(
      d.requests.map((r) => r.outcome),
      ['fail', 'fail fast (quorum unavailable)', 'refused (intent conflict)'],
    );
    assert.deepEqual(
      d.faults.map((f) => [f.id, f.start, f.end]),
      [['f1', 3, 6]],
    );
    assert.deepEqual(d.states, [{ party: 'p1', state: 'down', start: 3.7, end: 10 }]);
  });

  test('the page is self-contained, embeds both libraries and shows the verdict', () => {
    const html = buildReportHtml({
      summary,
      schedule,
      history,
      violations: report.violations,
      windows,
      metrics: report.metrics,
    });
    assert.doesNotMatch(html, /<script[^>]+src=/i);
    assert.doesNotMatch(html, /<link[^>]+href=/i);
    assert.doesNotMatch(html, /url\(\s*['"]?https?:/i);
    assert.match(html, /globalThis\.Plot|\.Plot=/, 'Observable Plot inlined');
    assert.match(html, /d3js\.org|d3 v7|version="7/i, 'd3 inlined');
    assert.match(html, /id="timeline"/);
    assert.match(html, /id="histogram"/);
    assert.match(html, /PASS|FAIL/);
    // A violation shows as FAIL with its invariant, HTML-escaped.
    const failing = buildReportHtml({
      summary: { ...summary, violations: 1 },
      schedule,
      history,
      violations: [{ invariant: 'I1', message: '<two signatures>', detail: {} }],
      windows,
      metrics: report.metrics,
    });
    assert.match(failing, /FAIL: 1 violation/);
    assert.match(failing, /&#60;two signatures&#62;/);
  });
});
