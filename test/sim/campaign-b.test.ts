/** Seeds 1001–2000 of the 2 000-seed campaign (the other half runs in parallel). */
import { test } from 'node:test';
import { campaignHalf } from './campaign-part.ts';

test('simulation campaign: seeds 1001–2000 pass every invariant', () => campaignHalf(1_001, 1_000));
