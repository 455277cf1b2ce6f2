/**
 * Raw WebSocket peers for hostile-input tests on real processes: a client that dials the
 * coordinator's party endpoint and sends whatever bytes a test chooses, and a fake coordinator
 * (a `ws` server on 127.0.0.1) that a real party process dials. Every wait is bounded; nothing
 * here listens or dials anywhere but loopback.
 */
import { WebSocket, WebSocketServer, type RawData } from 'ws';

/** How long any single wait here may take before it fails the test. */
export const rawWaitMsMax = 20_000;

/** One raw connection: what arrived (parsed when it is JSON text), and how it ended. */
export interface RawPeer {
  /** Sends a text frame (`string`) or the exact bytes as a text or binary frame. */
  send(data: string | Buffer, options?: { binary: boolean }): void;
  /** The next frame that arrived, parsed as JSON (the raw text if it is not JSON). */
  nextFrame(timeoutMs?: number): Promise<unknown>;
  /** Resolves with the close code once the connection is closed, by either side. */
  readonly closed: Promise<number>;
  readonly isClosed: boolean;
  /** Closes from this side, at once. */
  terminate(): void;
}

/** Waits for `promise`, failing with `what` after `timeoutMs`. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Queues a waiter for the next item; a waiter that timed out leaves the line (takes nothing). */
function waitInLine<T>(line: ((item: T) => void)[], timeoutMs: number, what: string): Promise<T> {
  let waiter: (item: T) => void = () => {};
  const next = new Promise<T>((resolve) => {
    waiter = resolve;
    line.push(waiter);
  });
  return within(next, timeoutMs, what).finally(() => {
    const at = line.indexOf(waiter);
    if (at >= 0) line.splice(at, 1);
  });
}

const textOf = (data: RawData): string =>
  Buffer.isBuffer(data)
    ? data.toString('utf8')
    : Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data).toString('utf8');

function parsed(data: RawData): unknown {
  const text = textOf(data);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Wraps an open socket (either end) as a {@link RawPeer}. */
function rawPeer(socket: WebSocket): RawPeer {
  const frames: unknown[] = [];
  const waiters: ((frame: unknown) => void)[] = [];
  let isClosed = false;
  const closed = new Promise<number>((resolve) => {
    socket.on('close', (code) => {
      isClosed = true;
      resolve(code);
    });
  });
  // An error (a frame the peer breaks the protocol with, a reset) always ends in 'close'.
  socket.on('error', () => {});
  socket.on('message', (data) => {
    const frame = parsed(data);
    const waiter = waiters.shift();
    if (waiter) waiter(frame);
    else frames.push(frame);
  });
  return {
    send(data, options) {
      socket.send(data, { binary: options?.binary ?? false });
    },
    nextFrame(timeoutMs = rawWaitMsMax) {
      if (frames.length > 0) return Promise.resolve(frames.shift());
      return waitInLine(waiters, timeoutMs, 'next frame');
    },
    closed,
    get isClosed() {
      return isClosed;
    },
    terminate() {
      socket.terminate();
    },
  };
}

/** Dials `url` (a `ws://127.0.0.1…` URL) and resolves once the connection is open. */
export async function dialRaw(url: string): Promise<RawPeer> {
  const socket = new WebSocket(url, { handshakeTimeout: rawWaitMsMax });
  // Wrapped before 'open' so no early frame (the coordinator's challenge) is missed.
  const peer = rawPeer(socket);
  await within(
    new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    }),
    rawWaitMsMax,
    `dial ${url}`,
  );
  return peer;
}

/** A fake coordinator: a WebSocket server on loopback whose connections a test scripts. */
export interface FakeCoordinator {
  /** `ws://127.0.0.1:PORT` (a party appends the party path; any path is accepted). */
  readonly url: string;
  /** How many connections were accepted so far. */
  readonly accepted: number;
  /** The next connection a party opens (bounded wait). */
  nextConnection(timeoutMs?: number): Promise<RawPeer>;
  close(): Promise<void>;
}

/** Starts a {@link FakeCoordinator} on 127.0.0.1, on a free port. */
export async function startFakeCoordinator(): Promise<FakeCoordinator> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await within(
    new Promise<void>((resolve) => server.once('listening', () => resolve())),
    rawWaitMsMax,
    'fake coordinator listening',
  );
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error(`unexpected address ${String(address)}`);
  const pending: RawPeer[] = [];
  const waiters: ((peer: RawPeer) => void)[] = [];
  let accepted = 0;
  server.on('connection', (socket) => {
    accepted += 1;
    const peer = rawPeer(socket);
    const waiter = waiters.shift();
    if (waiter) waiter(peer);
    else pending.push(peer);
  });
  return {
    url: `ws://127.0.0.1:${address.port}`,
    get accepted() {
      return accepted;
    },
    nextConnection(timeoutMs = rawWaitMsMax) {
      const ready = pending.shift();
      if (ready) return Promise.resolve(ready);
      return waitInLine(waiters, timeoutMs, 'the party to dial again');
    },
    async close() {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
