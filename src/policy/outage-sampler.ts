/**
 * Laws of up and down durations, as plain numbers, and `drawDuration`, which draws from one.
 * Every outage distribution is parameterised so that its mean equals the component's MTTR:
 * exponential(mean), Weibull(shape k, scale MTTR/Γ(1+1/k)), lognormal(σ, μ = ln MTTR − σ²/2).
 * Exponential variates come from the ziggurat method.
 */
import type { SeededRandom } from '../core/seeded-random.ts';
import { standardExponential } from './exponential-ziggurat.ts';
import type { OutageDistribution } from './policy-schema.ts';

const lanczos = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** The gamma function Γ(x) for x > 0 (Lanczos, g = 7; relative error about 1e-15). */
export function gammaFunction(x: number): number {
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gammaFunction(1 - x));
  const z = x - 1;
  let sum = lanczos[0] as number;
  for (let i = 1; i < lanczos.length; i++) sum += (lanczos[i] as number) / (z + i);
  const t = z + 7.5;
  return Math.sqrt(2 * Math.PI) * Math.pow(t, z + 0.5) * Math.exp(-t) * sum;
}

/**
 * Codes of the duration laws. The simulator keeps laws as numbers in typed arrays and draws with
 * `drawDuration`, so its inner loop makes one monomorphic call instead of calling a different
 * closure per component (a polymorphic call V8 cannot inline).
 */
const durationLawKind = { never: 0, exponential: 1, weibull: 2, lognormal: 3 } as const;

/** A duration law as plain numbers: `kind` from `durationLawKind` and two parameters. */
export interface DurationLaw {
  readonly kind: number;
  /** Exponential: the mean. Weibull: the scale. Lognormal: μ. */
  readonly a: number;
  /** Weibull: 1/shape. Lognormal: σ. Otherwise 0. */
  readonly b: number;
}

/** Exponential durations with the given mean; an infinite mean means "never" (no draw). */
export function exponentialLaw(meanHours: number): DurationLaw {
  return Number.isFinite(meanHours)
    ? { kind: durationLawKind.exponential, a: meanHours, b: 0 }
    : { kind: durationLawKind.never, a: 0, b: 0 };
}

/** Outage durations with mean `mttrHours` under `distribution` (Γ or μ computed once, here). */
export function outageLaw(distribution: OutageDistribution, mttrHours: number): DurationLaw {
  switch (distribution.distribution) {
    case 'exponential':
      return exponentialLaw(mttrHours);
    case 'weibull': {
      const inverseShape = 1 / distribution.shape;
      const scale = mttrHours / gammaFunction(1 + inverseShape);
      return { kind: durationLawKind.weibull, a: scale, b: inverseShape };
    }
    case 'lognormal': {
      const sigma = distribution.sigma;
      return {
        kind: durationLawKind.lognormal,
        a: Math.log(mttrHours) - (sigma * sigma) / 2,
        b: sigma,
      };
    }
  }
}

/** One duration from the law (`kind`, `a`, `b`); see `DurationLaw`. */
export function drawDuration(kind: number, a: number, b: number, prng: SeededRandom): number {
  switch (kind) {
    case durationLawKind.exponential:
      return a * standardExponential(prng);
    case durationLawKind.weibull:
      // Inverse CDF: scale · E^(1/k) with E standard exponential (E = −ln U).
      return a * Math.pow(standardExponential(prng), b);
    case durationLawKind.lognormal: {
      // Box–Muller; one normal per call keeps the stream simple to replay.
      const radius = Math.sqrt(-2 * Math.log(prng.openUnit()));
      const normal = radius * Math.cos(2 * Math.PI * prng.openUnit());
      return Math.exp(a + b * normal);
    }
    default:
      return Infinity;
  }
}
