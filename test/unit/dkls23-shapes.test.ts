/**
 * The DKLs23 value codec is the validator of everything the engine is handed: a fixture key
 * share round-trips exactly, and every kind of malformed input is refused before the engine
 * (which panics on malformed input) could see it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hexToBytes } from '@noble/hashes/utils.js';
import {
  bytes,
  decodeShape,
  encodeShape,
  indexMap,
  obj,
  point,
  scalar,
  ShapeError,
  u8,
} from '../../src/protocol/dkls23-shapes.ts';
import { shapes } from '../../src/protocol/dkls23-messages.ts';
import { ecdsaFixture } from '../helpers/ecdsa.ts';

const order = 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141';
const g = '0279BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798';

describe('dkls23 shapes', () => {
  test('a fixture key share decodes, re-encodes byte for byte, and keeps its Maps', () => {
    const hex = ecdsaFixture(2, 3).keys[1]!.secretPackage['party'] as string;
    const party = decodeShape(shapes.party, hexToBytes(hex)) as Record<string, unknown>;
    assert.ok(party['mul_senders'] instanceof Map);
    assert.deepEqual([...(party['mul_senders'] as Map<number, unknown>).keys()], [1, 3]);
    assert.equal(Buffer.from(encodeShape(shapes.party, party)).toString('hex'), hex);
  });

  test('truncated, trailing, out-of-range and off-curve values are refused', () => {
    const shape = obj({ k: scalar, p: point, b: bytes(2), m: indexMap(u8, 4) });
    const good = { k: '01'.repeat(32), p: g, b: [1, 2], m: new Map([[1, 7]]) };
    const encoded = encodeShape(shape, good);
    assert.deepEqual(decodeShape(shape, encoded), { ...good, k: good.k.toUpperCase() });
    const refuse = (bytesIn: Uint8Array, problem: RegExp) =>
      assert.throws(
        () => decodeShape(shape, bytesIn),
        (e: unknown) => {
          assert.ok(e instanceof ShapeError);
          assert.match(e.message, problem);
          return true;
        },
      );
    refuse(encoded.subarray(0, encoded.length - 1), /truncated/);
    refuse(Uint8Array.from([...encoded, 0]), /trailing/);
    const highScalar = Uint8Array.from(encoded);
    highScalar.set(hexToBytes(order.toLowerCase()), 0);
    refuse(highScalar, /group order/);
    const offCurve = Uint8Array.from(encoded);
    offCurve[32] = 0x05; // neither 02 nor 03: not a compressed point
    refuse(offCurve, /not a point/);
    const mapAt = 32 + 33 + 2;
    const twoKeys = encodeShape(shape, {
      ...good,
      m: new Map([
        [2, 1],
        [3, 1],
      ]),
    });
    const descending = Uint8Array.from(twoKeys);
    descending[mapAt + 1] = 3; // first key 3, then 3 again: not ascending
    refuse(descending, /ascending/);
    assert.throws(() => encodeShape(shape, { ...good, extra: 1 }), ShapeError);
    assert.throws(() => encodeShape(shape, { ...good, b: [1, 256] }), ShapeError);
  });
});
