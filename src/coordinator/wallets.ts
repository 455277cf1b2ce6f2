/**
 * Wallet creation: checks the request (tier, parties, threshold, everyone enrolled and alive),
 * runs the distributed key generation among all the wallet's parties, and records the wallet.
 */
import type { Env, Log } from '../core/env.ts';
import { QuorateError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { limits } from '../core/limits.ts';
import { tierFits, type LoadedPolicy } from '../policy/rules/index.ts';
import type { Scheme, SignatureEngine } from '../protocol/engine.ts';
import type { Store, WalletRecord } from '../store/store.ts';
import type { Envelope } from '../transport/wire.ts';
import { KeygenRunner } from './keygen-runner.ts';
import type { CoordinatorMetrics } from './metrics.ts';
import type { PartyRegistry } from './party-registry.ts';

/** A wallet creation request after validation at the boundary. */
export interface CreateWalletRequest {
  scheme: Scheme;
  threshold: number;
  parties: string[];
  tier?: string;
  /** Refresh the shares every this many days (docs/key-lifecycle.md); absent or 0: never. */
  refreshEveryDays?: number;
}

/** What wallet creation needs from the coordinator. */
export interface WalletsDeps {
  env: Env;
  store: Store;
  registry: PartyRegistry;
  metrics: CoordinatorMetrics;
  log: Log;
  policy: LoadedPolicy | undefined;
  /** The protocol engine of each scheme. */
  engines: Record<Scheme, SignatureEngine>;
}

/** Creates wallets and reads them back. */
export class Wallets {
  private readonly keygens = new Map<string, KeygenRunner>();

  constructor(private readonly deps: WalletsDeps) {}

  /** Creates a wallet by DKG among all its parties. */
  async create(request: CreateWalletRequest): Promise<WalletRecord> {
    const { scheme, threshold, parties, tier, refreshEveryDays } = request;
    await this.checkRoom();
    if (tier !== undefined) this.checkTier(tier, threshold, parties);
    checkShape(scheme, threshold, parties);
    const boxKeys = await this.enrolledBoxKeys(parties);
    this.checkAlive(parties);
    if (this.keygens.size >= limits.keygensActiveMax)
      throw new QuorateError('QUORATE_E_OVERLOADED', 'too many key generations in flight');
    const { env, registry, metrics, store, log } = this.deps;
    const walletId = newId(env, 'w');
    const args = { keygenId: newId(env, 'k'), walletId, scheme, threshold, parties, boxKeys };
    const runner = new KeygenRunner(
      env,
      registry,
      this.deps.engines[scheme],
      { ...args, ...(tier === undefined ? {} : { tier }) },
      (r) => this.keygens.delete(r.args.keygenId),
    );
    this.keygens.set(args.keygenId, runner);
    runner.start();
    let result;
    try {
      result = await runner.result;
      metrics.keygensTotal.inc({ outcome: 'ok' });
    } catch (error) {
      metrics.keygensTotal.inc({ outcome: 'failed' });
      throw error;
    }
    const wallet: WalletRecord = {
      walletId,
      scheme,
      threshold,
      parties,
      publicKey: result.publicKey,
      publicPackage: result.publicPackage,
      createdMs: env.nowMs(),
      ...(tier === undefined ? {} : { tier }),
      ...(refreshEveryDays === undefined || refreshEveryDays === 0 ? {} : { refreshEveryDays }),
    };
    await store.createWallet(wallet);
    log.info({ walletId, scheme, threshold, parties }, 'wallet created');
    return wallet;
  }

  /**
   * Refuses a wallet beyond `limits.walletsMax` with `QUORATE_E_OVERLOADED` (`detail.reason`
   * `'wallets-max'`): every party holds one key share per wallet, so the bound protects them
   * too. Checked before the DKG, not atomically with the write: key generations in flight
   * (at most `keygensActiveMax`) may each still land.
   */
  private async checkRoom(): Promise<void> {
    const count = await this.deps.store.countWallets(limits.walletsMax);
    if (count < limits.walletsMax) return;
    throw new QuorateError(
      'QUORATE_E_OVERLOADED',
      'this coordinator holds the most wallets it may',
      {
        reason: 'wallets-max',
        walletsMax: limits.walletsMax,
      },
    );
  }

  /** The wallet, or `QUORATE_E_WALLET_NOT_FOUND`. */
  async get(walletId: string): Promise<WalletRecord> {
    const wallet = await this.deps.store.getWallet(walletId);
    if (!wallet)
      throw new QuorateError('QUORATE_E_WALLET_NOT_FOUND', 'no such wallet', { walletId });
    return wallet;
  }

  /** Routes a party's envelope to the key generation it is for. */
  onEnvelope(partyId: string, e: Envelope): void {
    this.keygens.get(e.sessionId)?.onEnvelope(partyId, e);
  }

  /** A party disconnected: a key generation it takes part in fails. */
  onDisconnect(partyId: string): void {
    for (const k of [...this.keygens.values()]) k.onDisconnect(partyId);
  }

  /**
   * Every party's X25519 key, or `QUORATE_E_UNKNOWN_PARTY` naming those not enrolled (a revoked
   * party is not enrolled until it redeems a new invitation).
   */
  async enrolledBoxKeys(parties: string[]): Promise<Record<string, string>> {
    const boxKeys: Record<string, string> = {};
    const unknown: string[] = [];
    for (const p of parties) {
      const rec = await this.deps.store.getParty(p);
      if (rec && rec.revokedMs === undefined) boxKeys[p] = rec.boxKey;
      else unknown.push(p);
    }
    if (unknown.length > 0)
      throw new QuorateError(
        'QUORATE_E_UNKNOWN_PARTY',
        'parties not enrolled with this coordinator',
        { unknown },
      );
    return boxKeys;
  }

  /** Key generation needs every party: `QUORATE_E_QUORUM_UNAVAILABLE` naming who is not alive. */
  private checkAlive(parties: string[]): void {
    const down = this.deps.registry.candidates(parties).filter((c) => c.state !== 'alive');
    if (down.length === 0) return;
    throw new QuorateError(
      'QUORATE_E_QUORUM_UNAVAILABLE',
      'key generation needs every party alive',
      {
        down: down.map((c) => ({ partyId: c.partyId, state: c.state, sinceMs: c.sinceMs ?? null })),
      },
    );
  }

  /** Tier checks at wallet creation: the tier exists and matches threshold and shares. */
  checkTier(tier: string, threshold: number, parties: string[]): void {
    const t = this.deps.policy?.rules.tiers.get(tier);
    if (!t) {
      throw new QuorateError('QUORATE_E_POLICY_INVALID', `no policy tier ${tier} is loaded`, {
        path: 'policy',
        problem: 'unknown tier',
      });
    }
    if (!tierFits(t, threshold, parties)) {
      throw new QuorateError(
        'QUORATE_E_POLICY_INVALID',
        `tier ${tier} is ${t.threshold}-of-[${t.shares.join(', ')}]`,
        { path: 'policy', problem: 'threshold and parties must match the tier' },
      );
    }
  }
}

/** Distinct parties and a threshold between 1 and n (ecdsa: 2 and n, n at most ecdsaPartiesMax). */
export function checkShape(scheme: Scheme, threshold: number, parties: string[]): void {
  if (new Set(parties).size !== parties.length) {
    throw new QuorateError('QUORATE_E_DUPLICATE_PARTY', 'a party id appears twice', { parties });
  }
  if (threshold < 1 || threshold > parties.length) {
    throw new QuorateError(
      'QUORATE_E_INVALID_THRESHOLD',
      `threshold must be between 1 and ${parties.length}`,
      { threshold, n: parties.length },
    );
  }
  if (scheme === 'ecdsa' && (threshold < 2 || parties.length > limits.ecdsaPartiesMax)) {
    // DKLs23 is a t >= 2 protocol, and key generation test-signs with every t-subset.
    throw new QuorateError(
      'QUORATE_E_INVALID_THRESHOLD',
      `an ecdsa wallet needs a threshold of at least 2 and at most ${limits.ecdsaPartiesMax} parties`,
      { threshold, n: parties.length, partiesMax: limits.ecdsaPartiesMax },
    );
  }
}
