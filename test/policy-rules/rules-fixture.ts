/** Shared fixtures for the rule-engine tests: a 2-of-3 model, approver keys, document builders. */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { loadPolicyDocumentWithRules } from '../../src/policy/rules/index.ts';
import type { LoadedPolicy } from '../../src/policy/rules/index.ts';

/** Deterministic test approver keys: secret = sha256("test approver NAME"). */
export function approverKey(name: string): { secretKey: Uint8Array; publicKey: string } {
  const secretKey = sha256(utf8ToBytes(`test approver ${name}`));
  return { secretKey, publicKey: bytesToHex(ed25519.getPublicKey(secretKey)) };
}

export const destinations = ['0xaaa', '0xbbb', '0xccc'] as const;

/** The model part: mobile, backend, guardian in a 2-of-3 and an hsm in a 2-of-2 'vault'. */
export function baseModel(): Record<string, unknown> {
  return {
    shares: [
      { id: 'mobile', type: 'mobile', domain: 'user', availability: 0.8 },
      { id: 'backend', type: 'backend', domain: 'operator', availability: 0.99 },
      { id: 'guardian', type: 'guardian', domain: 'recovery', availability: 0.9 },
      { id: 'hsm', type: 'hsm', domain: 'operator', availability: 0.999 },
    ],
    policies: [
      { id: 'retail', threshold: 2, shares: ['mobile', 'backend', 'guardian'] },
      { id: 'vault', threshold: 2, shares: ['backend', 'hsm'] },
    ],
  };
}

/** The common `rules:` header: assets, lists, approvers. */
export function rulesHeader(): Record<string, unknown> {
  return {
    assets: { USDC: { decimals: 6 }, BTC: { decimals: 8 }, WEI: { decimals: 18 } },
    lists: { ok: [destinations[0], destinations[1]] },
    approvers: ['alice', 'bob', 'carol'].map((id) => ({
      id,
      publicKey: approverKey(id).publicKey,
    })),
  };
}

/** A full document whose `retail` tier holds `rules`. */
export function documentWith(
  rules: readonly Record<string, unknown>[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    ...baseModel(),
    rules: { ...rulesHeader(), tiers: { retail: rules }, ...extra },
  };
}

/** Loads a document whose `retail` tier holds `rules`. */
export function loadRetail(rules: readonly Record<string, unknown>[]): LoadedPolicy {
  return loadPolicyDocumentWithRules(structuredClone(documentWith(rules)));
}

/** 2024-01-01T10:30:00Z, a Monday. */
export const mondayMorningMs = Date.UTC(2024, 0, 1, 10, 30);
