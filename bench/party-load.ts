/**
 * Load generator for `npm run bench -- parties` (bench/parties-bench.ts), run as its own process
 * so its CPU is not the coordinator's: opens `--count` real WebSocket party connections to the
 * coordinator, each with its own identity keys, performing the real handshake (challenge, hello
 * from src/party/handshake.ts with the shared party secret, welcome checked) and then answering
 * every heartbeat ping with a signed pong, exactly as a party runtime does (src/party/dispatch.ts).
 *
 *   node --import tsx bench/party-load.ts --url ws://127.0.0.1:7420 --count 1000
 *     [--heartbeat-ms 30000|on-demand] [--concurrency 128] [--prefix load]
 *
 * The party secret comes from QUORATE_PARTY_SECRET. Prints one JSON line `{"ready":…}` once every
 * connection is welcomed (or has failed), then `{"pongs":…}` every 10 s, until SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { realEnv } from '../src/core/env.ts';
import { limits } from '../src/core/limits.ts';
import { helloFor, verifyWelcome, type HandshakeConfig } from '../src/party/handshake.ts';
import { MemoryJournal } from '../src/party/journal-memory.ts';
import { coordinatorRole } from '../src/protocol/engine.ts';
import { EnvelopeGuard, EnvelopeSender } from '../src/transport/envelope.ts';
import { generateIdentity } from '../src/transport/identity.ts';
import { partyWsPath } from '../src/transport/link.ts';
import {
  buildEnvelopeFrame,
  buildPong,
  isHeartbeatClass,
  validateFrame,
  type ChallengeFrame,
} from '../src/transport/wire.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    count: { type: 'string' },
    'heartbeat-ms': { type: 'string' },
    concurrency: { type: 'string', default: '128' },
    prefix: { type: 'string', default: 'load' },
  },
});
const url = `${String(values.url).replace(/^http/, 'ws')}${partyWsPath}`;
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const heartbeatRaw = values['heartbeat-ms'];
const heartbeatMs =
  heartbeatRaw === undefined
    ? undefined
    : heartbeatRaw === 'on-demand'
      ? heartbeatRaw
      : Number(heartbeatRaw);
const partySecret = process.env['QUORATE_PARTY_SECRET'];
if (!Number.isInteger(count) || count < 1 || count > limits.connectionsMax)
  throw new Error(`--count must be 1..${limits.connectionsMax}`);
if (heartbeatMs !== undefined && !isHeartbeatClass(heartbeatMs))
  throw new Error('--heartbeat-ms must be a heartbeat class');
if (partySecret === undefined) throw new Error('QUORATE_PARTY_SECRET is required');
const secret: string = partySecret;

const env = realEnv({ logLevel: 'silent' });
// One journal for all: the handshake pins the coordinator key there, and every load party
// talks to the same coordinator.
const journal = new MemoryJournal(env.nowMs());
let pongs = 0;
let closedAfterWelcome = 0;

/** Dials one party; resolves true once welcomed, false if refused or closed first. */
function dial(index: number): Promise<boolean> {
  const partyId = `${values.prefix}-${index}`;
  const config: HandshakeConfig = {
    partyId,
    identity: generateIdentity(new Uint8Array(randomBytes(64))),
    journal,
    partySecret: secret,
    ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
  };
  const ws = new WebSocket(url, { maxPayload: limits.frameBytesMax });
  return new Promise((resolve) => {
    let challenge: ChallengeFrame | undefined;
    let session: { guard: EnvelopeGuard; sender: EnvelopeSender } | undefined;
    ws.on('error', () => resolve(false));
    ws.on('close', () => {
      if (session) closedAfterWelcome += 1;
      resolve(false);
    });
    ws.on('message', (data: Buffer) => {
      const frame = validateFrame(JSON.parse(String(data)));
      if (!frame.ok) return;
      const f = frame.value;
      if (f.t === 'challenge') {
        challenge = f;
        ws.send(JSON.stringify(helloFor(config, f)));
      } else if (f.t === 'welcome' && challenge) {
        const verified = verifyWelcome(config, env.log, challenge, f);
        if (typeof verified === 'string') return ws.close();
        session = {
          guard: new EnvelopeGuard(
            partyId,
            coordinatorRole,
            verified.conn,
            verified.coordinatorKey,
          ),
          sender: new EnvelopeSender(
            partyId,
            coordinatorRole,
            verified.conn,
            config.identity.signSecret,
          ),
        };
        resolve(true);
      } else if (f.t === 'env' && session) {
        const e = session.guard.accept(f.e);
        if (e.kind !== 'ping') return;
        ws.send(JSON.stringify(buildEnvelopeFrame(session.sender.build(buildPong(e.seq)))));
        pongs += 1;
      } else if (f.t === 'reject') {
        process.stderr.write(`${partyId} rejected: ${f.message}\n`);
      }
    });
  });
}

const t0 = performance.now();
let next = 0;
let welcomed = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const index = next++;
      if (await dial(index)) welcomed += 1;
    }
  }),
);
const readyS = Math.round((performance.now() - t0) / 100) / 10;
process.stdout.write(`${JSON.stringify({ ready: { welcomed, count, readyS } })}\n`);
setInterval(() => {
  process.stdout.write(`${JSON.stringify({ pongs, closedAfterWelcome })}\n`);
}, 10_000);
process.on('SIGTERM', () => process.exit(0));
