/**
 * The validated `rules:` section of a policy file and the decisions the engine returns.
 * `validateRuleSection` produces a {@link RuleSet}; everything downstream trusts it.
 */
import type { ShareType } from '../policy-schema.ts';
import type { CompiledCondition } from './cel-condition.ts';

/** An approver identity: an Ed25519 public key that signs approvals. */
export interface Approver {
  readonly id: string;
  /** 32-byte Ed25519 public key, lower-case hex. */
  readonly publicKey: string;
}

/** How amounts of one asset are scaled to integer minor units. */
export interface AssetSpec {
  readonly id: string;
  /** Minor units per unit = 10^decimals; request amounts may not be finer. */
  readonly decimals: number;
}

/** Who must sign when an allow rule matches. */
export interface QuorumSpec {
  /** At least this many signers (never below the policy threshold). */
  readonly minSigners: number | null;
  /** At least one signer of each of these share types. */
  readonly requireTypes: readonly ShareType[];
  /** These shares (party ids) must sign. */
  readonly requireShares: readonly string[];
}

/** k of the named approvers must approve before signing starts. */
export interface ApprovalSpec {
  readonly k: number;
  readonly approvers: readonly string[];
}

/** A velocity limit: sliding window, amount and/or count including the current request. */
export interface VelocityLimit {
  /** As written in the file, e.g. `24h`. */
  readonly window: string;
  readonly windowMs: number;
  /** Decimal string in units of the request's asset, or null. */
  readonly maxAmount: string | null;
  readonly maxCount: number | null;
}

/** One rule. Deny rules carry no quorum, approvals or velocity. */
export interface Rule {
  readonly id: string;
  readonly effect: 'allow' | 'deny';
  /** Free text for people; quoted in deny reasons. */
  readonly description?: string;
  /** The CEL source, as written. */
  readonly when: string;
  readonly condition: CompiledCondition;
  readonly quorum: QuorumSpec;
  readonly approvals: ApprovalSpec | null;
  readonly velocity: readonly VelocityLimit[];
  /** Path in the file, e.g. `rules.tiers.retail-2of3[1]`, for messages. */
  readonly path: string;
}

/** The rules of one tier, bound to one `policies[]` entry of the same file. */
export interface Tier {
  readonly id: string;
  readonly threshold: number;
  /** The policy's shares (party ids), in file order. */
  readonly shares: readonly string[];
  readonly rules: readonly Rule[];
}

/** The whole validated `rules:` section. */
export interface RuleSet {
  readonly assets: ReadonlyMap<string, AssetSpec>;
  readonly lists: ReadonlyMap<string, readonly string[]>;
  readonly approvers: ReadonlyMap<string, Approver>;
  readonly tiers: ReadonlyMap<string, Tier>;
  /** Wallet id → tier id. */
  readonly wallets: ReadonlyMap<string, string>;
  /** Party id → share type, for every share of the file. */
  readonly shareTypes: ReadonlyMap<string, ShareType>;
}

/** One group of required approvals in a decision. */
export interface ApprovalGroup {
  /** Rules that asked for exactly this group (identical groups are merged). */
  readonly ruleIds: readonly string[];
  readonly k: number;
  readonly approvers: readonly Approver[];
}

/** The combined requirement of every matching allow rule. */
export interface QuorumRequirement {
  /** max(policy threshold, every matching rule's minSigners). */
  readonly minSigners: number;
  /** Sorted in `shareTypes` order. */
  readonly requiredTypes: readonly ShareType[];
  /** In the policy's share order. */
  readonly requiredShares: readonly string[];
  /** Every group must be satisfied; empty when no approval is needed. */
  readonly approvals: readonly ApprovalGroup[];
}

/** Why a request was denied. */
export type DenyCause =
  | 'deny-rule'
  | 'evaluation-error'
  | 'velocity'
  | 'no-matching-rule'
  | 'invalid-request'
  | 'unknown-rule-set';

/** The engine's answer. */
export type RuleDecision =
  | {
      readonly effect: 'allow';
      /** Every matching allow rule, in file order. */
      readonly ruleIds: readonly string[];
      readonly requirement: QuorumRequirement;
    }
  | {
      readonly effect: 'deny';
      readonly cause: DenyCause;
      readonly ruleId?: string;
      readonly reason: string;
    };
