/**
 * Issue 12 finding 7: a party that the coordinator accepts at the socket level and then refuses
 * must back off, not redial at the minimum delay forever. A real WebSocket server on loopback
 * opens every connection and closes it at once; the client's Env records every delay it asks
 * for and runs the redial on the next macrotask (no wall-clock waits), so the test reads the
 * backoff the client chose.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { realEnv, silentLog, type Env } from '../../src/core/env.ts';
import { limits } from '../../src/core/limits.ts';
import { ReconnectingClient } from '../../src/party/ws-client.ts';

const dialsWanted = 8;

test('a connection refused right after it opens makes the backoff grow, not reset', async () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  const real = realEnv({ logLevel: 'silent' });
  const delays: number[] = [];
  let dials = 0;
  let client: ReconnectingClient | undefined;
  const enough = new Promise<void>((resolve) => {
    server.on('connection', (socket) => {
      dials += 1;
      socket.close(4001, 'party refused');
      if (dials >= dialsWanted) resolve();
    });
  });
  const env: Env = {
    ...real,
    log: silentLog,
    setTimer: (delayMs, fn) => {
      // The timer that would declare a connection stable never fires here: none stays open.
      if (delayMs >= limits.partyReconnectStableMs) return () => {};
      delays.push(delayMs);
      return real.setTimer(0, fn);
    },
  };
  let cancelDeadline = () => {};
  const deadline = new Promise<never>((_, reject) => {
    cancelDeadline = real.setTimer(20_000, () => reject(new Error(`only ${dials} dials`)));
  });
  try {
    client = new ReconnectingClient(env, `ws://127.0.0.1:${port}/v1/parties/connect`, () => {});
    client.start();
    await Promise.race([enough, deadline]);
  } finally {
    cancelDeadline();
    client?.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  assert.ok(delays.length >= dialsWanted - 1, `delays ${delays.join(',')}`);
  // Seven refusals in a row: the base delay doubled seven times up to the cap, so the last
  // delay is at least half the cap; the broken client asked for 50..100 ms every time.
  const last = delays[dialsWanted - 2] ?? 0;
  assert.ok(last >= limits.reconnectDelayMsMax / 2, `backoff did not grow: ${delays.join(',')}`);
  for (let i = 1; i < dialsWanted - 1; i++) {
    const base = Math.min(limits.reconnectDelayMsMax, limits.reconnectDelayMsMin * 2 ** i);
    assert.ok((delays[i] ?? 0) >= base / 2, `delay ${i} fell back: ${delays.join(',')}`);
  }
});
