/**
 * Loads one instance of the threshold-ECDSA engine (`@0xcarbon/dkls23-wasm` 1.0.2) whose
 * randomness comes from the party's Env.
 *
 * The wasm keeps its own generator (ChaCha12, `thread_rng`) inside the instance. It seeds it on
 * first use, and reseeds it later, from the `crypto` object it finds on the global object the
 * first time it asks, and it keeps that object for the instance's life
 * (../shared/notes/dkls23-wasm.md). So: a fresh instance (a fresh import of the glue: a
 * second `initSync` on one import returns the same instance), and during its first draw the
 * global `crypto` is, for that one synchronous call only, an object that fills from
 * `env.randomBytes`. A seeded Env then replays the engine exactly; the production Env is the
 * OS generator.
 *
 * The instance's memory holds its generator state, a secret like a nonce: it is never copied,
 * snapshotted or restored, and one instance serves one party.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { QuorateError } from '../core/errors.ts';
import type { Dkls23Api } from '../protocol/ecdsa.ts';

/** What the glue module exports (every engine function takes and returns untyped values). */
interface Glue {
  initSync(module: Uint8Array): unknown;
  phase1_wasm_binding(data: unknown): unknown;
  phase2_wasm_binding(data: unknown, fragments: unknown): unknown;
  phase3_wasm_binding(data: unknown, zeroKept: unknown, chainKept: unknown): unknown;
  phase4_wasm_binding(...args: unknown[]): unknown;
  sign_phase1(party: unknown, data: unknown): unknown;
  sign_phase2(...args: unknown[]): unknown;
  sign_phase3(...args: unknown[]): unknown;
  sign_phase4(...args: unknown[]): unknown;
  derive_child_keyshare(party: unknown, index: unknown): unknown;
}

const packageGlue = '@0xcarbon/dkls23-wasm/dkls23_wasm.js';
let instancesLoaded = 0;
let wasmBytes: Uint8Array | undefined;

function isGlue(value: unknown): value is Glue {
  const names = ['initSync', 'phase1_wasm_binding', 'sign_phase4', 'derive_child_keyshare'];
  return (
    typeof value === 'object' &&
    value !== null &&
    names.every((n) => typeof (value as Record<string, unknown>)[n] === 'function')
  );
}

/** Runs `fn` with the global `crypto` replaced by `source` (restored whatever happens). */
function withGlobalCrypto(source: object, fn: () => void): void {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  Object.defineProperty(globalThis, 'crypto', {
    value: source,
    configurable: true,
    writable: true,
  });
  try {
    fn();
  } finally {
    if (saved) Object.defineProperty(globalThis, 'crypto', saved);
    else Reflect.deleteProperty(globalThis, 'crypto');
  }
}

/** Runs `fn` with the engine's start-up `console.info` lines dropped. */
function quietly(fn: () => void): void {
  const info = console.info;
  console.info = () => {};
  try {
    fn();
  } finally {
    console.info = info;
  }
}

/**
 * A fresh engine instance whose generator draws from `envRandom` (the Env's). Fails with
 * `QUORATE_E_CONFIG` if the package is missing or does not draw its seed as this build did.
 */
export async function loadDkls23(envRandom: (length: number) => Uint8Array): Promise<Dkls23Api> {
  let gluePath: string;
  try {
    gluePath = createRequire(import.meta.url).resolve(packageGlue);
  } catch {
    throw new QuorateError('QUORATE_E_CONFIG', `the ecdsa engine ${packageGlue} is not installed`);
  }
  instancesLoaded += 1;
  const loaded: unknown = await import(
    `${pathToFileURL(gluePath).href}?instance=${instancesLoaded}`
  );
  if (!isGlue(loaded))
    throw new QuorateError('QUORATE_E_CONFIG', 'the ecdsa engine does not export its functions');
  const glue = loaded;
  wasmBytes ??= new Uint8Array(readFileSync(join(dirname(gluePath), 'dkls23_wasm_bg.wasm')));
  const bytes = wasmBytes;
  quietly(() => glue.initSync(bytes));
  let draws = 0;
  const source = {
    getRandomValues<T extends ArrayBufferView>(buffer: T): T {
      draws += 1;
      new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength).set(
        envRandom(buffer.byteLength),
      );
      return buffer;
    },
  };
  // The first draw: key generation's phase 1 samples a polynomial (its output is dropped).
  const probe = { parameters: { threshold: 2, share_count: 2 }, party_index: 1, session_id: [0] };
  withGlobalCrypto(source, () => glue.phase1_wasm_binding(probe));
  if (draws === 0)
    throw new QuorateError('QUORATE_E_CONFIG', 'the ecdsa engine did not seed from the Env');
  return apiOf(glue);
}

function apiOf(glue: Glue): Dkls23Api {
  return {
    keygenPhase1: (data) => glue.phase1_wasm_binding(data),
    keygenPhase2: (data, fragments) => glue.phase2_wasm_binding(data, fragments),
    keygenPhase3: (data, zero, chain) => glue.phase3_wasm_binding(data, zero, chain),
    keygenPhase4: (...args) => glue.phase4_wasm_binding(...args),
    signPhase1: (party, data) => glue.sign_phase1(party, data),
    signPhase2: (...args) => glue.sign_phase2(...args),
    signPhase3: (...args) => glue.sign_phase3(...args),
    signPhase4: (...args) => glue.sign_phase4(...args),
    deriveChild: (party, index) => glue.derive_child_keyshare(party, index),
  };
}
