/**
 * Samplers for up and down durations. Every outage distribution is parameterised so that its
 * mean equals the component's MTTR: exponential(mean), Weibull(shape k, scale MTTR/Γ(1+1/k)),
 * lognormal(σ, μ = ln MTTR − σ²/2).
 */
import type { OutageDistribution } from './policy-schema.ts';
import type { SeededPrng } from './seeded-prng.ts';

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

/** Draws durations with a fixed mean from one distribution. */
export type DurationSampler = (prng: SeededPrng) => number;

/** Exponential durations with the given mean (Infinity means "never"). */
export function exponentialSampler(meanHours: number): DurationSampler {
  if (!Number.isFinite(meanHours)) return () => Infinity;
  return (prng) => -meanHours * Math.log(prng.nextOpenUnit());
}

/** Outage durations with mean `mttrHours` under `distribution`. */
export function outageSampler(
  distribution: OutageDistribution,
  mttrHours: number,
): DurationSampler {
  switch (distribution.distribution) {
    case 'exponential':
      return exponentialSampler(mttrHours);
    case 'weibull': {
      const inverseShape = 1 / distribution.shape;
      const scale = mttrHours / gammaFunction(1 + inverseShape);
      return (prng) => scale * Math.pow(-Math.log(prng.nextOpenUnit()), inverseShape);
    }
    case 'lognormal': {
      const sigma = distribution.sigma;
      const mu = Math.log(mttrHours) - (sigma * sigma) / 2;
      return (prng) => {
        // Box–Muller; one normal per call keeps the stream simple to replay.
        const radius = Math.sqrt(-2 * Math.log(prng.nextOpenUnit()));
        const normal = radius * Math.cos(2 * Math.PI * prng.nextOpenUnit());
        return Math.exp(mu + sigma * normal);
      };
    }
  }
}
