/**
 * The policy of a governed run: one tier over the run's parties (threshold t, no share-type
 * requirement, so the rules never narrow the quorum the faults leave), three approvers whose
 * Ed25519 keys come from the seed, and four rules:
 *
 * - `blocked-destination` (deny): a transfer to the blocked address is refused;
 * - `small-transfer` (allow): up to 1 000 USDC, no approval;
 * - `large-transfer` (allow): over 1 000 USDC, 2 of the 3 approvers must approve;
 * - `metered` (allow): BTC transfers, at most {@link meteredMaxCount} per 24 h.
 *
 * The coordinator and every party load the same document, so they pin the same policy hash.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { loadPolicyDocumentWithRules, type LoadedPolicy } from '../policy/rules/index.ts';
import type { SeededRandom } from '../core/seeded-random.ts';

/** The tier every governed wallet of the simulator is bound to. */
export const simTier = 'sim-governed';

/** The destination the deny rule refuses. */
export const blockedDestination = '0xbad0000000000000000000000000000000000bad';

/** A destination no rule refuses. */
export const allowedDestination = '0x1111111111111111111111111111111111111111';

/** k of the large-transfer approval rule. */
export const largeTransferApprovals = 2;

/** Velocity limit of the metered rule: BTC transfers per 24 h. */
export const meteredMaxCount = 2;

/** An approver of the run: an id and its Ed25519 key pair. */
export interface SimApprover {
  id: string;
  secretKey: Uint8Array;
  publicKey: string;
}

/** The loaded policy of a governed run and the approvers' keys. */
export interface SimGovernance {
  policy: LoadedPolicy;
  tier: string;
  approvers: SimApprover[];
}

/** The asset of the custody rule (adversarial runs only): its transfers need one named party. */
export const custodyAsset = 'EURC';

/**
 * Builds the run's policy over `partyIds` (a `threshold`-of-n tier), keys drawn from `rng`.
 * With `custodyShare` (the adversarial runs), one more allow rule: a {@link custodyAsset}
 * transfer needs that party among the signers, so a final signer set without it is one the
 * parties' own rules refuse. The workloads never send that asset.
 */
export function simGovernance(
  rng: SeededRandom,
  partyIds: readonly string[],
  threshold: number,
  custodyShare?: string,
): SimGovernance {
  const approvers = ['alice', 'bob', 'carol'].map((id) => {
    const secretKey = rng.bytes(32);
    return { id, secretKey, publicKey: bytesToHex(ed25519.getPublicKey(secretKey)) };
  });
  const document = {
    shares: partyIds.map((id) => ({
      id,
      type: 'backend',
      domain: `host-${id}`,
      availability: 0.99,
    })),
    policies: [{ id: simTier, threshold, shares: [...partyIds] }],
    rules: {
      assets: {
        USDC: { decimals: 6 },
        BTC: { decimals: 8 },
        ...(custodyShare === undefined ? {} : { [custodyAsset]: { decimals: 2 } }),
      },
      lists: { blocked: [blockedDestination] },
      approvers: approvers.map((a) => ({ id: a.id, publicKey: a.publicKey })),
      tiers: { [simTier]: [...rules(approvers.map((a) => a.id)), ...custodyRule(custodyShare)] },
    },
  };
  return { policy: loadPolicyDocumentWithRules(document), tier: simTier, approvers };
}

function rules(approverIds: string[]): Record<string, unknown>[] {
  return [
    {
      id: 'blocked-destination',
      effect: 'deny',
      description: 'the destination is blocked',
      when: 'destination in lists.blocked',
    },
    {
      id: 'small-transfer',
      effect: 'allow',
      when: "asset == 'USDC' && amount <= 1000 * unit",
    },
    {
      id: 'large-transfer',
      effect: 'allow',
      when: "asset == 'USDC' && amount > 1000 * unit",
      approvals: { k: largeTransferApprovals, approvers: approverIds },
    },
    {
      id: 'metered',
      effect: 'allow',
      when: "asset == 'BTC'",
      velocity: [{ window: '24h', maxCount: meteredMaxCount }],
    },
  ];
}

function custodyRule(custodyShare: string | undefined): Record<string, unknown>[] {
  if (custodyShare === undefined) return [];
  return [
    {
      id: 'custody-transfer',
      effect: 'allow',
      when: `asset == '${custodyAsset}'`,
      quorum: { requireShares: [custodyShare] },
    },
  ];
}
