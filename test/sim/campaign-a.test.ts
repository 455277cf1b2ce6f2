/** Seeds 1–1000 of the 2 000-seed campaign (the other half runs in parallel). */
import { test } from 'node:test';
import { campaignHalf } from './campaign-part.ts';

test('simulation campaign: seeds 1–1000 pass every invariant', () => campaignHalf(1, 1_000));
