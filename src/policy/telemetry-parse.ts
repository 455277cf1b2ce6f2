/**
 * Parses telemetry JSON lines (see docs/telemetry.md): an optional header line, party up/down
 * events `{t, partyId, state}`, optional party attribute lines and group membership lines.
 * Errors are `QUORATE_E_POLICY_INVALID` with `path` = `line N` or `line N.field`.
 */
import { policyInvalid, show } from './policy-field-reader.ts';
import { policyLimits } from '../core/limits.ts';
import { shareTypes, type ShareType } from './policy-schema.ts';

/** One up/down observation. */
export interface TelemetryEvent {
  readonly tMs: number;
  readonly partyId: string;
  readonly up: boolean;
  readonly line: number;
}

/** Everything a telemetry file says. */
export interface Telemetry {
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  /** Events sorted by time (file order breaks ties). */
  readonly events: readonly TelemetryEvent[];
  readonly parties: ReadonlyMap<string, { type: ShareType; domain: string }>;
  readonly groups: ReadonlyMap<string, readonly string[]>;
}

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function readId(value: unknown, path: string): string {
  if (typeof value !== 'string' || !idPattern.test(value))
    throw policyInvalid(path, `must be an id, got ${show(value)}`);
  return value;
}

function readTime(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw policyInvalid(
      path,
      `must be epoch milliseconds (a non-negative integer), got ${show(value)}`,
    );
  }
  return value;
}

interface Collected {
  header: { startMs: number; endMs: number } | null;
  events: TelemetryEvent[];
  parties: Map<string, { type: ShareType; domain: string }>;
  groups: Map<string, readonly string[]>;
}

function readLine(raw: Record<string, unknown>, line: number, collected: Collected): void {
  const at = (field: string): string => `line ${line}.${field}`;
  const kind = raw['kind'] ?? 'event';
  if (kind === 'event') {
    const state = raw['state'];
    if (state !== 'up' && state !== 'down')
      throw policyInvalid(at('state'), `must be "up" or "down", got ${show(state)}`);
    collected.events.push({
      tMs: readTime(raw['t'], at('t')),
      partyId: readId(raw['partyId'], at('partyId')),
      up: state === 'up',
      line,
    });
  } else if (kind === 'header') {
    if (
      collected.header !== null ||
      collected.events.length > 0 ||
      collected.parties.size + collected.groups.size > 0
    ) {
      throw policyInvalid(`line ${line}`, 'the header must be the first line and appear once');
    }
    if (raw['version'] !== 1)
      throw policyInvalid(at('version'), `must be 1, got ${show(raw['version'])}`);
    const startMs = readTime(raw['windowStartMs'], at('windowStartMs'));
    const endMs = readTime(raw['windowEndMs'], at('windowEndMs'));
    if (endMs <= startMs) throw policyInvalid(at('windowEndMs'), 'must be after windowStartMs');
    collected.header = { startMs, endMs };
  } else if (kind === 'party') {
    const partyId = readId(raw['partyId'], at('partyId'));
    const type = raw['type'] ?? 'backend';
    if (!(shareTypes as readonly unknown[]).includes(type))
      throw policyInvalid(at('type'), `must be one of ${shareTypes.join('|')}, got ${show(type)}`);
    collected.parties.set(partyId, {
      type: type as ShareType,
      domain: readId(raw['domain'] ?? partyId, at('domain')),
    });
  } else if (kind === 'group') {
    const group = readId(raw['group'], at('group'));
    const members = raw['partyIds'];
    if (
      !Array.isArray(members) ||
      members.length < 2 ||
      members.length > policyLimits.telemetryPartiesMax
    ) {
      throw policyInvalid(at('partyIds'), 'must list at least 2 party ids');
    }
    const ids = members.map((m, i) => readId(m, `${at('partyIds')}[${i}]`));
    if (new Set(ids).size !== ids.length)
      throw policyInvalid(at('partyIds'), 'lists a party twice');
    if (collected.groups.has(group))
      throw policyInvalid(at('group'), `group '${group}' is defined twice`);
    collected.groups.set(group, ids);
  } else {
    throw policyInvalid(at('kind'), `must be event, header, party or group, got ${show(kind)}`);
  }
}

/** Parses telemetry text. */
export function parseTelemetry(text: string): Telemetry {
  if (text.length > policyLimits.telemetryCharsMax)
    throw policyInvalid('(file)', 'telemetry is too large');
  const lines = text.split('\n');
  if (lines.length > policyLimits.telemetryLinesMax)
    throw policyInvalid('(file)', `has more than ${policyLimits.telemetryLinesMax} lines`);
  const collected: Collected = { header: null, events: [], parties: new Map(), groups: new Map() };
  lines.forEach((content, i) => {
    if (content.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(content);
    } catch {
      throw policyInvalid(`line ${i + 1}`, 'is not valid JSON');
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw policyInvalid(`line ${i + 1}`, 'must be a JSON object');
    readLine(raw as Record<string, unknown>, i + 1, collected);
  });
  return finish(collected);
}

function finish(collected: Collected): Telemetry {
  const events = [...collected.events].sort((a, b) => a.tMs - b.tMs || a.line - b.line);
  const first = events[0];
  const last = events[events.length - 1];
  if (first === undefined || last === undefined)
    throw policyInvalid('(file)', 'has no up/down events');
  const partyIds = new Set(events.map((e) => e.partyId));
  if (partyIds.size > policyLimits.telemetryPartiesMax)
    throw policyInvalid('(file)', `has more than ${policyLimits.telemetryPartiesMax} parties`);
  const windowStartMs = collected.header?.startMs ?? first.tMs;
  const windowEndMs = collected.header?.endMs ?? last.tMs;
  for (const event of [first, last]) {
    if (event.tMs < windowStartMs || event.tMs > windowEndMs)
      throw policyInvalid(`line ${event.line}.t`, 'is outside the header window');
  }
  if (windowEndMs <= windowStartMs)
    throw policyInvalid('(file)', 'the observation window is empty (add a header or more events)');
  for (const [group, members] of collected.groups) {
    const unknown = members.find((m) => !partyIds.has(m));
    if (unknown !== undefined)
      throw policyInvalid(`group ${group}`, `party '${unknown}' has no events`);
  }
  return {
    windowStartMs,
    windowEndMs,
    events,
    parties: collected.parties,
    groups: collected.groups,
  };
}
