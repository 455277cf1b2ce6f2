/**
 * Loads one instance of the threshold-ECDSA engine (`@0xcarbon/dkls23-wasm` 1.0.2) whose
 * randomness comes from the party's Env.
 *
 * The wasm keeps its own generator (ChaCha12, `thread_rng`) inside the instance. It seeds it on
 * first use, and reseeds it later, from the `crypto` object it finds on the global object the
 * first time it asks, and it keeps that object for the instance's life
 * (../shared/notes/dkls23-wasm.md). So: a fresh instance (a fresh evaluation of the glue: a
 * second `initSync` on one glue returns the same instance), and during its first draw the
 * global `crypto` is, for that one synchronous call only, an object that fills from
 * `env.randomBytes`. A seeded Env then replays the engine exactly; the production Env is the
 * OS generator.
 *
 * The instance's memory holds its generator state, a secret like a nonce: it is never copied,
 * snapshotted or restored, and one instance serves one party.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { compileFunction } from 'node:vm';
import { QuorateError } from '../core/errors.ts';
import type { Dkls23Api } from '../protocol/ecdsa.ts';

/** What the glue module exports (every engine function takes and returns untyped values). */
interface Glue {
  initSync(module: object): unknown;
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
/** SHA-256 of the 1.0.2 glue and module: the only build whose text the loader knows. */
const pinnedGlueSha256 = 'ad1a8c3445bfcb0fcfab43f4d35c74b5ae5abce677c6e4f1a2dd8c46a1c1cf61';
const pinnedWasmSha256 = '901441d60f23401a793f9364dbfa1def6689fb372f53301e7c854de416cc294c';
const glueExports = [
  'initSync',
  'phase1_wasm_binding',
  'phase2_wasm_binding',
  'phase3_wasm_binding',
  'phase4_wasm_binding',
  'sign_phase1',
  'sign_phase2',
  'sign_phase3',
  'sign_phase4',
  'derive_child_keyshare',
] as const;

/** The glue as a factory (each call: a fresh glue whose state is its own) and the compiled module. */
interface Build {
  glueFactory: () => unknown;
  module: object;
}

/** The global `WebAssembly` (this project's type library has no DOM types). */
const webAssembly = (
  globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object } }
).WebAssembly;
let build: Build | undefined;

const sha256Hex = (bytes: Uint8Array | string): string =>
  createHash('sha256').update(bytes).digest('hex');

/**
 * Reads the pinned build once. The glue is an ES module whose state (its `wasm` instance) lives
 * at module level, and a module is never unloaded: one import per instance would keep every
 * instance's memory for the life of the process (about 1.6 MB each after a signature, which a
 * simulation campaign of thousands of party processes cannot afford). So the glue's text, checked
 * byte for byte against the pinned build, is compiled as a function body instead: its exports
 * become the function's result, its module-level state the function's locals, and an instance
 * nobody holds any more is collected. The edit is mechanical (`export function` → `function`, the
 * two trailing export statements dropped, the unused async loader's `import.meta.url` replaced),
 * and a glue of any other text is refused rather than edited.
 */
function loadBuild(): Build {
  if (build) return build;
  let gluePath: string;
  try {
    gluePath = createRequire(import.meta.url).resolve(packageGlue);
  } catch {
    throw new QuorateError('QUORATE_E_CONFIG', `the ecdsa engine ${packageGlue} is not installed`);
  }
  const glueText = readFileSync(gluePath, 'utf8');
  const wasmBytes = new Uint8Array(readFileSync(join(dirname(gluePath), 'dkls23_wasm_bg.wasm')));
  if (sha256Hex(glueText) !== pinnedGlueSha256 || sha256Hex(wasmBytes) !== pinnedWasmSha256)
    throw new QuorateError(
      'QUORATE_E_CONFIG',
      `the ecdsa engine at ${dirname(gluePath)} is not the pinned @0xcarbon/dkls23-wasm 1.0.2 build`,
    );
  const body =
    glueText
      .replace(/^export function /gm, 'function ')
      .replace(/^export \{ initSync \}$/m, '')
      .replace(/^export default __wbg_init;$/m, '')
      .replace('import.meta.url', 'undefined') + `\nreturn { ${glueExports.join(', ')} };\n`;
  const glueFactory = compileFunction(body, [], { filename: gluePath }) as () => unknown;
  build = { glueFactory, module: new webAssembly.Module(wasmBytes) };
  return build;
}

function isGlue(value: unknown): value is Glue {
  return (
    typeof value === 'object' &&
    value !== null &&
    glueExports.every((n) => typeof (value as Record<string, unknown>)[n] === 'function')
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
 * `QUORATE_E_CONFIG` if the package is missing, is not the pinned build, or does not draw its
 * seed as this build did.
 */
export function dkls23Instance(envRandom: (length: number) => Uint8Array): Dkls23Api {
  const { glueFactory, module } = loadBuild();
  const loaded = glueFactory();
  if (!isGlue(loaded))
    throw new QuorateError('QUORATE_E_CONFIG', 'the ecdsa engine does not export its functions');
  const glue = loaded;
  quietly(() => glue.initSync(module));
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
