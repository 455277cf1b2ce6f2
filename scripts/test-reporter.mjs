// Reporter for `node --test` (Node 20+), used by scripts/run-tests.mjs. Prints one line per test
// file with its duration, result and counts, and under a failing file every failed test (name,
// file and line, error and stack) and the file's last lines of output. Writes the totals and
// per-file figures as JSON to $QUORATE_TEST_SUMMARY for the runner, which prints the closing
// lines (slowest files, wall time, `tests: N passed, N failed`).
//
// What node 20 hands a reporter, checked on 20.20: every file runs in its own process and
// appears as a top-level test named by its absolute path (name === file, nesting 0). That
// entry's `test:complete` comes as soon as the file's process exits, with the duration and
// `passed`; the events of the tests inside it (`test:start`, `test:pass`, `test:fail` at
// nesting 0, 1, …) come in file order, once every file before it has finished, and carry the
// path of the file that called test(), a helper's for a shared suite. The entry's own
// `test:start`/`test:pass`/`test:fail` come only for a file with no test inside (a load error).
// So a file's tests are attributed by the begin/end lines that scripts/test-file-marker.mjs
// writes into each file's stdout, and a file's line is printed once both its tests and its
// `test:complete` are in: as the file finishes, but in file order.
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { inspect } from 'node:util';
import { beginMarker, endMarker } from './test-file-marker.mjs';

const outputLinesMax = 60;
const beginPattern = new RegExp(`${beginMarker}(\\d+)\\n?`);
const endPattern = new RegExp(`\\n?${endMarker}(\\d+)\\n?`);
const errorLinesMax = 80;

const rel = (path) => (path ? relative(process.cwd(), path) : '(unknown file)');
const seconds = (ms) => `${(ms / 1000).toFixed(1).padStart(6)} s`;
const indent = (text, prefix) =>
  text
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');

/** One test file's record, filled as its events arrive. */
function newRecord(path) {
  return {
    path,
    pid: undefined,
    durationMs: undefined,
    completePassed: undefined,
    completeError: undefined,
    ended: false,
    printed: false,
    tests: 0,
    passed: 0,
    failed: 0,
    skipped: 0,
    failures: [],
    names: [],
    output: [],
  };
}

/** The readable error of a failed test: the cause node wrapped, with its stack. */
function describeError(error) {
  if (error === undefined || error === null) return 'no error recorded';
  const wrapped = error.code === 'ERR_TEST_FAILURE';
  const cause = wrapped && error.cause !== undefined ? error.cause : error;
  let text;
  if (typeof cause === 'string') {
    text = cause;
  } else if (cause instanceof Error || typeof cause?.stack === 'string') {
    text = cause.stack ?? String(cause);
    if (cause.cause !== undefined) text += `\ncaused by: ${inspect(cause.cause, { depth: 2 })}`;
  } else {
    text = inspect(cause, { depth: 3 });
  }
  // A file whose process failed: node says how it ended.
  if (wrapped && (typeof error.exitCode === 'number' || typeof error.signal === 'string')) {
    text += error.signal
      ? ` (process killed by ${error.signal})`
      : ` (process exit code ${error.exitCode})`;
  }
  const lines = text.split('\n');
  return lines.length > errorLinesMax
    ? [...lines.slice(0, errorLinesMax), `… (${lines.length - errorLinesMax} more lines)`].join(
        '\n',
      )
    : text;
}

function pushOutput(record, text) {
  for (const line of text.split('\n')) {
    if (line === '') continue;
    record.output.push(line);
    if (record.output.length > outputLinesMax) record.output.shift();
  }
}

/** The progress line of a finished file and, if it failed, what failed and its output. */
function formatRecord(record) {
  if (record.completePassed === false && record.failed === 0) {
    // The file's process failed with no failing test: it did not load, or exited non-zero.
    record.failed = 1;
    record.failures.push({
      name: '(the file itself: it did not load, or its process failed)',
      location: record.path,
      error: describeError(record.completeError),
    });
  }
  if (record.completePassed === undefined && record.failed === 0) {
    record.failed = 1;
    record.failures.push({
      name: '(no result for this file from node’s test runner)',
      location: record.path,
      error: 'the runner ended before the file finished',
    });
  }
  const noTest = record.tests === 0 && record.failed === 0;
  if (noTest) {
    record.failed = 1;
    record.failures.push({
      name: '(no test ran: a test file must define at least one test)',
      location: record.path,
      error: 'no test:pass or test:fail event',
    });
  }
  const ok = record.failed === 0;
  const counts = [`${record.tests} ${record.tests === 1 ? 'test' : 'tests'}`];
  if (record.failed > 0) counts.push(`${record.failed} failed`);
  if (record.skipped > 0) counts.push(`${record.skipped} skipped`);
  const duration = record.durationMs === undefined ? '     ? s' : seconds(record.durationMs);
  let text = `  ${ok ? 'ok  ' : 'FAIL'} ${duration}  ${record.path} (${counts.join(', ')})\n`;
  for (const failure of record.failures) {
    text += `    ✖ ${failure.name}\n`;
    text += `      in ${failure.location}\n`;
    text += `${indent(failure.error, '      ')}\n`;
  }
  if (!ok && record.output.length > 0) {
    text += `    output of ${record.path} (last ${record.output.length} lines):\n`;
    text += `${indent(record.output.join('\n'), '      | ')}\n`;
  }
  return text;
}

/** Every file's record, fed the runner's events; each method returns the text to print. */
class RunState {
  records = new Map(); // absolute path → record
  order = []; // records in the order their lines were printed
  nodeTotals = {};
  current = undefined; // the record whose tests are being reported now

  recordOf(path) {
    let record = this.records.get(path);
    if (record === undefined) {
      record = newRecord(rel(path));
      this.records.set(path, record);
    }
    return record;
  }

  /** The record a test's event belongs to: the file being reported, else the event's file. */
  recordOfTest(data) {
    return this.current ?? (data.file === undefined ? undefined : this.records.get(data.file));
  }

  tryPrint(record) {
    if (record.printed || !record.ended || record.completePassed === undefined) return '';
    record.printed = true;
    this.order.push(record);
    return formatRecord(record);
  }

  endCurrent() {
    const ended = this.current;
    if (ended === undefined) return '';
    ended.ended = true;
    this.current = undefined;
    return this.tryPrint(ended);
  }

  /** A file's stdout or stderr: the marker lines, or output kept for a failure report. */
  onOutput(data) {
    if (data.file === undefined) return '';
    const record = this.recordOf(data.file);
    let message = String(data.message ?? '');
    let out = '';
    const begin = beginPattern.exec(message);
    if (begin !== null && record.pid === undefined) {
      if (this.current !== record) out += this.endCurrent();
      record.pid = begin[1];
      this.current = record;
      message = message.replace(begin[0], '');
    }
    const end = endPattern.exec(message);
    if (end !== null && end[1] === record.pid) {
      pushOutput(record, message.replace(end[0], ''));
      if (this.current === record) return out + this.endCurrent();
      record.ended = true;
      return out + this.tryPrint(record);
    }
    pushOutput(record, message);
    return out;
  }

  /** The end of a file's process: its duration and whether it passed. */
  onFileComplete(data) {
    const record = this.recordOf(data.file);
    record.durationMs = data.details?.duration_ms;
    record.completePassed = data.details?.passed !== false;
    record.completeError = data.details?.error;
    return this.tryPrint(record);
  }

  onStart(data) {
    const record = this.recordOfTest(data);
    if (record === undefined) return;
    record.names.length = data.nesting;
    record.names[data.nesting] = data.name;
  }

  onPass(data) {
    const record = this.recordOfTest(data);
    if (record === undefined || data.details?.type === 'suite') return;
    record.tests += 1;
    if (data.skip !== undefined || data.todo !== undefined) record.skipped += 1;
    else record.passed += 1;
  }

  onFail(data) {
    const record = this.recordOfTest(data);
    if (record === undefined) return;
    const isSuite = data.details?.type === 'suite';
    if (data.todo !== undefined) {
      // A failing todo test does not fail the run (node's rule too).
      if (!isSuite) ((record.tests += 1), (record.skipped += 1));
      return;
    }
    // A suite that failed only because tests inside it failed adds nothing new.
    if (isSuite && data.details?.error?.failureType === 'subtestsFailed') return;
    if (!isSuite) record.tests += 1;
    record.failed += 1;
    record.failures.push({
      name: [...record.names.slice(0, data.nesting), data.name].join(' › '),
      // node's line and column are of the code tsx produced; the stack has the source's.
      location: rel(data.file),
      error: describeError(data.details?.error),
    });
  }

  /** node's own totals, after the last file: kept as a cross-check for the runner. */
  onDiagnostic(data) {
    if (data.file !== undefined || data.nesting !== 0) return;
    const [key, value] = String(data.message).split(' ');
    if (key !== undefined && value !== undefined && /^[a-z_]+$/.test(key))
      this.nodeTotals[key] = Number(value);
  }

  /** The stream has ended: print every file not printed yet (one killed writes no end line). */
  finish() {
    let out = this.endCurrent();
    for (const record of this.records.values()) {
      record.ended = true;
      if (!record.printed) {
        record.printed = true;
        this.order.push(record);
        out += formatRecord(record);
      }
    }
    return out;
  }

  summary() {
    const sum = (key) => this.order.reduce((n, r) => n + r[key], 0);
    return {
      files: this.order.map((r) => ({
        path: r.path,
        durationMs: r.durationMs ?? null,
        tests: r.tests,
        passed: r.passed,
        failed: r.failed,
        skipped: r.skipped,
        ok: r.failed === 0,
        failures: r.failures.map((f) => f.name),
      })),
      tests: sum('tests'),
      passed: sum('passed'),
      failed: sum('failed'),
      skipped: sum('skipped'),
      nodeTotals: this.nodeTotals,
    };
  }
}

/** The node:test reporter: an async generator over the runner's events. */
export default async function* quorateReporter(source) {
  const state = new RunState();
  for await (const event of source) {
    const data = event.data ?? {};
    // The entry node makes for each file (named by its path) is not a test of the file.
    const isFileEntry = data.nesting === 0 && data.name !== undefined && data.name === data.file;
    let out = '';
    if (event.type === 'test:stdout' || event.type === 'test:stderr') out = state.onOutput(data);
    else if (event.type === 'test:complete' && isFileEntry) out = state.onFileComplete(data);
    else if (event.type === 'test:start' && !isFileEntry) state.onStart(data);
    else if (event.type === 'test:pass' && !isFileEntry) state.onPass(data);
    else if (event.type === 'test:fail' && !isFileEntry) state.onFail(data);
    else if (event.type === 'test:diagnostic') state.onDiagnostic(data);
    if (out !== '') yield out;
  }
  const tail = state.finish();
  if (tail !== '') yield tail;
  const summaryPath = process.env['QUORATE_TEST_SUMMARY'];
  if (summaryPath) writeFileSync(summaryPath, `${JSON.stringify(state.summary(), null, 2)}\n`);
}
