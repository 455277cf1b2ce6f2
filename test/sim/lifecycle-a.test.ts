/** Lifecycle seeds 1–250 of the 500-seed lifecycle campaign (the other half runs in parallel). */
import { test } from 'node:test';
import { lifecycleHalf } from './lifecycle-part.ts';

test('lifecycle campaign: seeds 1–250 pass every invariant, I7–I9 included', () =>
  lifecycleHalf(1, 250));
