/**
 * The messages between a party's main thread and its threshold-ECDSA worker
 * (dkls23-worker.ts), and the main thread's side: a {@link Dkls23Api} whose calls run in the
 * worker and whose randomness the main thread serves from its Env.
 */
import { Worker } from 'node:worker_threads';
import { QuorateError } from '../core/errors.ts';
import { limits } from '../core/limits.ts';
import type { Dkls23Api } from '../protocol/ecdsa.ts';

/** Shared memory for randomness: `control[0]` flips 0 → 1 when `data` holds the bytes asked. */
export interface Dkls23Channel {
  control: Int32Array;
  data: Uint8Array;
}

/** An engine call: the function's name and its (structured-clone) arguments. */
export interface WorkerCall {
  type: 'call';
  id: number;
  fn: keyof Dkls23Api;
  args: unknown[];
}

/** The worker's answer to a call. */
export type WorkerAnswer =
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: string; fatal: boolean };

const apiNames: readonly (keyof Dkls23Api)[] = [
  'keygenPhase1',
  'keygenPhase2',
  'keygenPhase3',
  'keygenPhase4',
  'signPhase1',
  'signPhase2',
  'signPhase3',
  'signPhase4',
  'deriveChild',
];

/** True for a well-formed call (the worker checks what it is asked to run). */
export function isCall(message: unknown): message is WorkerCall {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Record<string, unknown>;
  return (
    m['type'] === 'call' &&
    Number.isInteger(m['id']) &&
    apiNames.some((n) => n === m['fn']) &&
    Array.isArray(m['args'])
  );
}

/** What the worker posts to the main thread. */
type FromWorker =
  | WorkerAnswer
  | { type: 'random'; length: number }
  | { type: 'ready' }
  | { type: 'failed'; error: string };

/**
 * Starts the worker thread on its entry file, next to this one: JavaScript in dist/, or, when
 * this runs from src/ under tsx (tests, benchmarks), the TypeScript file behind a two-line
 * bootstrap that registers tsx's loader in the new thread first.
 */
function spawnWorker(channel: Dkls23Channel): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./dkls23-worker.js', import.meta.url), { workerData: channel });
  const entry = JSON.stringify(new URL('./dkls23-worker.ts', import.meta.url).href);
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); });`;
  return new Worker(bootstrap, { eval: true, workerData: channel });
}

/** A running worker: its engine API, and how to stop it. */
export interface Dkls23Worker {
  api: Dkls23Api;
  stop(): Promise<void>;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** One worker thread and the calls it owes. */
class WorkerThread {
  readonly pending = new Map<number, Pending>();
  dead: Error | undefined;
  readonly ready: Promise<void>;
  private readonly worker: Worker;

  constructor(envRandom: (length: number) => Uint8Array) {
    const channel: Dkls23Channel = {
      control: new Int32Array(new SharedArrayBuffer(4)),
      data: new Uint8Array(new SharedArrayBuffer(limits.dkls23RandomDrawBytesMax)),
    };
    this.worker = spawnWorker(channel);
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (message: FromWorker) => {
        if (message.type === 'random') {
          channel.data.set(envRandom(Math.min(message.length, channel.data.length)));
          Atomics.store(channel.control, 0, 1);
          Atomics.notify(channel.control, 0);
        } else if (message.type === 'result') {
          const p = this.pending.get(message.id);
          this.pending.delete(message.id);
          if (message.ok) p?.resolve(message.value);
          else {
            // The thread exits after a panic: no later call may be posted to it.
            if (message.fatal) this.failAll(new Error(`ecdsa engine panicked: ${message.error}`));
            p?.reject(new Error(message.error));
          }
        } else if (message.type === 'ready') resolve();
        else reject(new QuorateError('QUORATE_E_CONFIG', `ecdsa engine: ${message.error}`));
      });
      this.worker.on('error', (error) => {
        this.failAll(error);
        reject(error);
      });
      this.worker.on('exit', (code) => {
        this.failAll(new Error(`ecdsa engine worker exited (${code})`));
        reject(this.dead ?? new Error('ecdsa engine worker exited'));
      });
    });
  }

  private failAll(error: Error): void {
    this.dead ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  post(call: WorkerCall, pending: Pending): void {
    this.pending.set(call.id, pending);
    this.worker.postMessage(call);
  }

  async stop(): Promise<void> {
    this.dead ??= new Error('ecdsa engine worker stopped');
    await this.worker.terminate();
  }
}

/**
 * Starts the worker (one engine instance, fed by `envRandom`: the Env's randomBytes). Every
 * call returns a promise; at most `limits.dkls23CallsPendingMax` may be pending. A worker whose engine panicked exits
 * (each panic leaks wasm memory, and about 750 of them break the instance for good: security
 * review, finding 2): its pending calls fail, and the next call starts a fresh worker with a
 * fresh instance, seeded from the Env again. Once stopped, every call fails.
 */
export async function startDkls23Worker(
  envRandom: (length: number) => Uint8Array,
): Promise<Dkls23Worker> {
  let current = new WorkerThread(envRandom);
  await current.ready;
  let stopped = false;
  let nextId = 0;
  const live = async (): Promise<WorkerThread> => {
    if (stopped) throw new Error('ecdsa engine worker stopped');
    if (current.dead) {
      current = new WorkerThread(envRandom);
      await current.ready;
    }
    return current;
  };
  const invoke = async (fn: keyof Dkls23Api, args: unknown[]): Promise<unknown> => {
    const thread = await live();
    if (thread.pending.size >= limits.dkls23CallsPendingMax)
      throw new Error('too many ecdsa engine calls pending');
    const id = nextId++;
    return new Promise((resolve, reject) =>
      thread.post({ type: 'call', id, fn, args }, { resolve, reject }),
    );
  };
  const api = Object.fromEntries(
    apiNames.map((fn) => [fn, (...args: unknown[]) => invoke(fn, args)]),
  ) as unknown as Dkls23Api; // every name of the interface, each forwarding its arguments
  return {
    api,
    stop: async () => {
      stopped = true;
      await current.stop();
    },
  };
}
