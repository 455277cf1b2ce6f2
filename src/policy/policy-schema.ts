/**
 * The validated, normalised policy file. `validatePolicyFile` produces these from parsed YAML or
 * JSON; everything downstream trusts them.
 */

/** Kinds of share holder. */
export const shareTypes = ['mobile', 'web', 'backend', 'guardian', 'hsm'] as const;
/** A share holder's kind. */
export type ShareType = (typeof shareTypes)[number];

/** Failure and repair rates, as means in hours. */
export interface RateSpec {
  readonly mttfHours: number;
  readonly mttrHours: number;
}

/** A periodic scheduled outage: down for `durationHours` every `everyHours`, from `offsetHours`. */
export interface MaintenanceWindow {
  readonly everyHours: number;
  readonly durationHours: number;
  readonly offsetHours: number;
}

/** Distribution of one outage's duration; its mean is always the component's MTTR. */
export type OutageDistribution =
  | { readonly distribution: 'exponential' }
  | { readonly distribution: 'weibull'; readonly shape: number }
  | { readonly distribution: 'lognormal'; readonly sigma: number };

/** Daily online window in hours of the simulation clock, [fromHour, toHour), may wrap midnight. */
export interface DailyWindow {
  readonly fromHour: number;
  readonly toHour: number;
}

/** What shares and groups have in common: a random up/down process plus optional schedules. */
export interface ComponentSpec {
  readonly id: string;
  /** Long-run availability of the random process alone: as given, or MTTF/(MTTF+MTTR). */
  readonly randomAvailability: number;
  /** Present when the file gives `mttfHours` and `mttrHours`. */
  readonly rates: RateSpec | null;
  /** Groups this component needs up (a group's own `groups` are its parents). */
  readonly groups: readonly string[];
  readonly maintenance: MaintenanceWindow | null;
  readonly outage: OutageDistribution;
  /** Index in the file, for error paths. */
  readonly index: number;
}

/** A common-cause group: when it is down, every share needing it is down. */
export type GroupSpec = ComponentSpec;

/** One key share and where it lives. */
export interface ShareSpec extends ComponentSpec {
  readonly type: ShareType;
  /** The administrative domain that controls the share. */
  readonly domain: string;
  /** Whether this share's party runs the signing-time policy engine (default true). */
  readonly enforcesPolicy: boolean;
  readonly dailyOnline: DailyWindow | null;
}

/** A t-of-n policy over named shares. */
export interface PolicySpec {
  readonly id: string;
  readonly threshold: number;
  readonly shares: readonly string[];
  readonly index: number;
}

/** Monte Carlo settings. */
export interface SimulationSpec {
  readonly months: number;
  readonly seed: number;
  /** Repair time used for components given only `availability`. */
  readonly mttrHoursDefault: number;
  /** True when the file has a `simulation` section (then every policy is simulated). */
  readonly explicit: boolean;
}

/** Recommender settings (command-line flags override them). */
export interface RecommendSpec {
  readonly sharesMin: number;
  readonly sharesMax: number;
  readonly requireNonCustodial: boolean;
  /** Candidate pool; all shares when absent. */
  readonly candidates: readonly string[] | null;
}

/** A whole validated policy file. */
export interface PolicyFile {
  readonly slo: number;
  readonly groups: readonly GroupSpec[];
  readonly shares: readonly ShareSpec[];
  readonly policies: readonly PolicySpec[];
  readonly simulation: SimulationSpec;
  readonly recommend: RecommendSpec;
}
