/**
 * The worker thread that runs a party process's threshold-ECDSA engine instance, so its phases
 * (seconds of key generation, a tenth of a second per signing phase) never stall the party's
 * event loop: heartbeats, other sessions and the silence watchdog go on meanwhile.
 *
 * The instance's randomness still comes from the party's Env: when the engine asks for bytes,
 * this thread posts the request and waits (Atomics.wait, bounded) until the main thread has
 * written `env.randomBytes(n)` into the shared buffer. Calls run one at a time in arrival order;
 * an engine panic is answered as an error, and the thread then exits (the main thread starts a
 * fresh one, with a fresh instance, for the next call).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { limits } from '../core/limits.ts';
import type { Dkls23Api } from '../protocol/ecdsa.ts';
import { dkls23Instance } from './dkls23-instance.ts';
import { isCall, type Dkls23Channel, type WorkerAnswer } from './dkls23-worker-protocol.ts';

const port = parentPort;
const channel = workerData as Dkls23Channel;

/** `n` bytes from the main thread's Env (blocks this thread until they are written). */
function randomFromMain(n: number): Uint8Array {
  if (!port || n > channel.data.length) throw new Error(`random draw of ${n} bytes refused`);
  Atomics.store(channel.control, 0, 0);
  port.postMessage({ type: 'random', length: n });
  const waited = Atomics.wait(channel.control, 0, 0, limits.dkls23RandomWaitMsMax);
  if (waited === 'timed-out') throw new Error('no random bytes from the main thread in time');
  return channel.data.slice(0, n);
}

async function serve(): Promise<void> {
  if (!port) return;
  const api: Dkls23Api = dkls23Instance(randomFromMain);
  port.on('message', (message: unknown) => {
    if (!isCall(message)) return;
    let answer: WorkerAnswer;
    try {
      const value = (api[message.fn] as (...args: unknown[]) => unknown).apply(api, message.args);
      answer = { type: 'result', id: message.id, ok: true, value };
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      const failed: WorkerAnswer = {
        type: 'result',
        id: message.id,
        ok: false,
        error: text,
        fatal: true,
      };
      port.postMessage(failed);
      // A panic leaks wasm memory and may leave the instance broken: this thread ends, and the
      // main thread starts a fresh one for the next call.
      process.exit(1);
    }
    port.postMessage(answer);
  });
  port.postMessage({ type: 'ready' });
}

serve().catch((error: unknown) => {
  const text = error instanceof Error ? error.message : String(error);
  port?.postMessage({ type: 'failed', error: text });
});
