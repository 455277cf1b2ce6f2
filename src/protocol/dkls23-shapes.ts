/**
 * A small schema language for the DKLs23 engine's untyped values, and a binary codec driven by
 * it. The engine (`@0xcarbon/dkls23-wasm`) takes and returns plain JS values (hex strings,
 * number arrays, `Map`s keyed by party index, a few `Uint8Array`s) and panics on malformed
 * input, so every value that crosses a boundary (the wire, the keystore) is decoded against
 * its exact shape here: fixed lengths, scalars below the group order, points on the curve,
 * indices in range. Decoding is the validator; encoding is compact (a scalar is 32 bytes, not
 * 66 characters of JSON), which keeps a 3-of-5 signing round within a frame.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { isSecp256k1CompressedPoint } from '../core/openssl.ts';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

/** The shape of one engine value. */
export type Shape =
  | { readonly t: 'scalar' }
  | { readonly t: 'point' }
  | { readonly t: 'u8' }
  | { readonly t: 'u32' }
  | { readonly t: 'bool' }
  | { readonly t: 'bytes'; readonly n: number }
  | { readonly t: 'varbytes'; readonly max: number }
  | { readonly t: 'typed'; readonly n: number }
  | { readonly t: 'hex'; readonly n: number }
  | { readonly t: 'text'; readonly max: number }
  | { readonly t: 'list'; readonly of: Shape; readonly n: number }
  | { readonly t: 'varlist'; readonly of: Shape; readonly max: number }
  | { readonly t: 'obj'; readonly fields: readonly (readonly [string, Shape])[] }
  | { readonly t: 'map'; readonly of: Shape; readonly max: number };

/** A scalar of secp256k1 (engine form: 64 upper-case hex digits), below the group order. */
export const scalar: Shape = { t: 'scalar' };
/** A point of secp256k1, compressed SEC1 (engine form: 66 upper-case hex digits). */
export const point: Shape = { t: 'point' };
/** An integer 0..255. */
export const u8: Shape = { t: 'u8' };
/** An integer 0..2^32-1. */
export const u32: Shape = { t: 'u32' };
/** A boolean. */
export const bool: Shape = { t: 'bool' };
/** Exactly `n` bytes as a `number[]`. */
export const bytes = (n: number): Shape => ({ t: 'bytes', n });
/** At most `max` bytes as a `number[]`. */
export const varbytes = (max: number): Shape => ({ t: 'varbytes', max });
/** Exactly `n` bytes as a `Uint8Array`. */
export const typed = (n: number): Shape => ({ t: 'typed', n });
/** Exactly `n` bytes as lower-case hex (the engine's x-coordinate and `s`). */
export const hex = (n: number): Shape => ({ t: 'hex', n });
/** A printable ASCII string of at most `max` characters. */
export const text = (max: number): Shape => ({ t: 'text', max });
/** Exactly `n` values of one shape. */
export const list = (of: Shape, n: number): Shape => ({ t: 'list', of, n });
/** At most `max` values of one shape. */
export const varlist = (of: Shape, max: number): Shape => ({ t: 'varlist', of, max });
/** An object with exactly these fields, in this order. */
export const obj = (fields: Record<string, Shape>): Shape => ({
  t: 'obj',
  fields: Object.entries(fields),
});
/** A `Map` from party index (1..255, ascending) to values of one shape, at most `max`. */
export const indexMap = (of: Shape, max: number): Shape => ({ t: 'map', of, max });

/** A value that does not fit its shape. */
export class ShapeError extends Error {
  constructor(path: string, problem: string) {
    super(`${path || 'value'}: ${problem}`);
  }
}

const order = secp256k1.Point.CURVE().n;
const scalarHex = /^[0-9A-Fa-f]{64}$/;
const pointHex = /^[0-9A-Fa-f]{66}$/;
const lowerHex = /^[0-9a-f]*$/;
const printable = /^[\x20-\x7e]*$/;

function isScalarBytes(b: Uint8Array): boolean {
  return BigInt(`0x${bytesToHex(b)}`) < order;
}

/** Growable byte buffer. */
class Writer {
  private buf = new Uint8Array(4096);
  private at = 0;

  put(bytes: Uint8Array): void {
    if (this.at + bytes.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.at + bytes.length));
      grown.set(this.buf.subarray(0, this.at));
      this.buf = grown;
    }
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
  }

  byte(value: number): void {
    this.put(Uint8Array.of(value));
  }

  u16(value: number): void {
    this.put(Uint8Array.of(value >>> 8, value & 0xff));
  }

  done(): Uint8Array {
    return this.buf.slice(0, this.at);
  }
}

/** Bounds-checked reader. */
class Reader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  take(n: number, path: string): Uint8Array {
    if (this.at + n > this.bytes.length) throw new ShapeError(path, 'truncated');
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  byte(path: string): number {
    return this.take(1, path)[0] as number; // take(1) returned one byte
  }

  u16(path: string): number {
    const b = this.take(2, path);
    return ((b[0] as number) << 8) | (b[1] as number);
  }

  end(path: string): void {
    if (this.at !== this.bytes.length) throw new ShapeError(path, 'trailing bytes');
  }
}

function byteArray(value: unknown, path: string, n: number | undefined, max: number): Uint8Array {
  if (!Array.isArray(value)) throw new ShapeError(path, 'not a byte array');
  if (n !== undefined ? value.length !== n : value.length > max)
    throw new ShapeError(path, `length ${value.length}`);
  const out = new Uint8Array(value.length);
  value.forEach((v: unknown, i) => {
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 255)
      throw new ShapeError(`${path}[${i}]`, 'not a byte');
    out[i] = v as number;
  });
  return out;
}

/** Writes a leaf value (a number, string or byte string); false if `shape` is composite. */
function writeLeaf(w: Writer, shape: Shape, value: unknown, path: string): boolean {
  switch (shape.t) {
    case 'scalar': {
      if (typeof value !== 'string' || !scalarHex.test(value)) throw new ShapeError(path, 'scalar');
      w.put(hexToBytes(value.toLowerCase()));
      return true;
    }
    case 'point': {
      if (typeof value !== 'string' || !pointHex.test(value)) throw new ShapeError(path, 'point');
      w.put(hexToBytes(value.toLowerCase()));
      return true;
    }
    case 'hex': {
      if (typeof value !== 'string' || value.length !== shape.n * 2 || !lowerHex.test(value))
        throw new ShapeError(path, 'hex');
      w.put(hexToBytes(value));
      return true;
    }
    case 'u8':
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 255)
        throw new ShapeError(path, 'u8');
      w.byte(value as number);
      return true;
    case 'u32': {
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffffffff)
        throw new ShapeError(path, 'u32');
      const v = value as number;
      w.put(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
      return true;
    }
    case 'bool':
      if (typeof value !== 'boolean') throw new ShapeError(path, 'bool');
      w.byte(value ? 1 : 0);
      return true;
    case 'bytes':
      w.put(byteArray(value, path, shape.n, shape.n));
      return true;
    case 'varbytes': {
      const b = byteArray(value, path, undefined, shape.max);
      w.u16(b.length);
      w.put(b);
      return true;
    }
    case 'typed':
      if (!(value instanceof Uint8Array) || value.length !== shape.n)
        throw new ShapeError(path, 'typed bytes');
      w.put(value);
      return true;
    case 'text': {
      if (typeof value !== 'string' || value.length > shape.max || !printable.test(value))
        throw new ShapeError(path, 'text');
      w.u16(value.length);
      w.put(Uint8Array.from(value, (c) => c.charCodeAt(0)));
      return true;
    }
    default:
      return false;
  }
}

function write(w: Writer, shape: Shape, value: unknown, path: string): void {
  if (writeLeaf(w, shape, value, path)) return;
  switch (shape.t) {
    case 'list':
    case 'varlist': {
      if (!Array.isArray(value)) throw new ShapeError(path, 'not a list');
      if (shape.t === 'list' ? value.length !== shape.n : value.length > shape.max)
        throw new ShapeError(path, `length ${value.length}`);
      if (shape.t === 'varlist') w.u16(value.length);
      value.forEach((v: unknown, i) => write(w, shape.of, v, `${path}[${i}]`));
      return;
    }
    case 'obj': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new ShapeError(path, 'not an object');
      const record = value as Record<string, unknown>;
      if (Object.keys(record).length !== shape.fields.length)
        throw new ShapeError(path, 'unexpected fields');
      for (const [key, of] of shape.fields) write(w, of, record[key], `${path}.${key}`);
      return;
    }
    case 'map': {
      if (!(value instanceof Map) || value.size > shape.max) throw new ShapeError(path, 'map');
      w.byte(value.size);
      let last = 0;
      for (const [key, v] of value as Map<unknown, unknown>) {
        if (!Number.isInteger(key) || (key as number) <= last || (key as number) > 255)
          throw new ShapeError(path, 'map keys are ascending party indices');
        last = key as number;
        w.byte(last);
        write(w, shape.of, v, `${path}<${last}>`);
      }
      return;
    }
    default:
      return;
  }
}

/** Reads a leaf value; `undefined` if `shape` is composite (no leaf reads as undefined). */
function readLeaf(r: Reader, shape: Shape, path: string): unknown {
  switch (shape.t) {
    case 'scalar': {
      const b = r.take(32, path);
      if (!isScalarBytes(b)) throw new ShapeError(path, 'scalar not below the group order');
      return bytesToHex(b).toUpperCase();
    }
    case 'point': {
      const b = r.take(33, path);
      if (!isSecp256k1CompressedPoint(b)) throw new ShapeError(path, 'not a point of secp256k1');
      return bytesToHex(b).toUpperCase();
    }
    case 'hex':
      return bytesToHex(r.take(shape.n, path));
    case 'u8':
      return r.byte(path);
    case 'u32': {
      const b = r.take(4, path);
      return (
        (((b[0] as number) << 24) >>> 0) +
        ((b[1] as number) << 16) +
        ((b[2] as number) << 8) +
        (b[3] as number)
      );
    }
    case 'bool': {
      const v = r.byte(path);
      if (v > 1) throw new ShapeError(path, 'bool');
      return v === 1;
    }
    case 'bytes':
      return Array.from(r.take(shape.n, path));
    case 'varbytes': {
      const n = r.u16(path);
      if (n > shape.max) throw new ShapeError(path, `length ${n}`);
      return Array.from(r.take(n, path));
    }
    case 'typed':
      return Uint8Array.from(r.take(shape.n, path));
    case 'text': {
      const n = r.u16(path);
      if (n > shape.max) throw new ShapeError(path, `length ${n}`);
      const value = String.fromCharCode(...r.take(n, path));
      if (!printable.test(value)) throw new ShapeError(path, 'text');
      return value;
    }
    default:
      return undefined;
  }
}

function read(r: Reader, shape: Shape, path: string): unknown {
  const leaf = readLeaf(r, shape, path);
  if (leaf !== undefined) return leaf;
  switch (shape.t) {
    case 'list':
    case 'varlist': {
      const n = shape.t === 'list' ? shape.n : r.u16(path);
      if (shape.t === 'varlist' && n > shape.max) throw new ShapeError(path, `length ${n}`);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(read(r, shape.of, `${path}[${i}]`));
      return out;
    }
    case 'obj': {
      const out: Record<string, unknown> = {};
      for (const [key, of] of shape.fields) out[key] = read(r, of, `${path}.${key}`);
      return out;
    }
    case 'map': {
      const n = r.byte(path);
      if (n > shape.max) throw new ShapeError(path, `size ${n}`);
      const out = new Map<number, unknown>();
      let last = 0;
      for (let i = 0; i < n; i++) {
        const key = r.byte(path);
        if (key <= last) throw new ShapeError(path, 'map keys are ascending party indices');
        last = key;
        out.set(key, read(r, shape.of, `${path}<${key}>`));
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** Encodes an engine value of `shape` (throws a ShapeError if it does not fit). */
export function encodeShape(shape: Shape, value: unknown): Uint8Array {
  const w = new Writer();
  write(w, shape, value, '');
  return w.done();
}

/** Decodes and validates bytes of `shape` (throws a ShapeError if they do not fit). */
export function decodeShape(shape: Shape, bytes: Uint8Array): unknown {
  const r = new Reader(bytes);
  const value = read(r, shape, '');
  r.end('');
  return value;
}
