/**
 * Outage frequency and mean outage duration from the Markov model. Each component alternates
 * up/down with exponential times (rate 1/MTTF down, 1/MTTR up) independently. For such a coherent
 * system the steady-state frequency of system failures is
 *   f = Σ_c I_B(c) · A_c · λ_c = Σ_c I_B(c) / (MTTF_c + MTTR_c)
 * where I_B is the Birnbaum importance, and the mean outage lasts U / f.
 */
import type { CompiledPlacement } from './compile-placement.ts';
import { hasTimeStructure } from './effective-availability.ts';
import type { ExactImportance } from './exact-availability.ts';
import { monthHours } from '../core/limits.ts';
import type { ComponentSpec } from './policy-schema.ts';

/** Markov outage figures, or null where the model does not apply. */
export interface MarkovOutages {
  readonly outagesPerMonth: number;
  /** Null when outages never happen (f = 0). */
  readonly meanOutageMinutes: number | null;
}

/** Per-hour failure frequency of one component, or null if it has no rates or has schedules. */
function componentFrequencyPerHour(component: ComponentSpec, availability: number): number | null {
  if (hasTimeStructure(component)) return null;
  if (component.rates === null) return availability >= 1 ? 0 : null;
  return 1 / (component.rates.mttfHours + component.rates.mttrHours);
}

/**
 * Outages per 30-day month and mean outage length. Null unless every fallible component has
 * MTTF/MTTR and no time structure (those are left to the Monte Carlo simulator).
 */
export function markovOutages(
  model: CompiledPlacement,
  importance: ExactImportance,
): MarkovOutages | null {
  let perHour = 0;
  const terms: [ComponentSpec, number, number][] = [
    ...model.shares.map((s, i): [ComponentSpec, number, number] => [
      s,
      model.shareAvailability[i] as number,
      importance.shareBirnbaum[i] as number,
    ]),
    ...model.groups.map((g, j): [ComponentSpec, number, number] => [
      g,
      model.groupAvailability[j] as number,
      importance.groupBirnbaum[j] as number,
    ]),
  ];
  for (const [component, availability, birnbaum] of terms) {
    const frequency = componentFrequencyPerHour(component, availability);
    if (frequency === null) return null;
    perHour += Math.max(0, birnbaum) * frequency;
  }
  return {
    outagesPerMonth: perHour * monthHours,
    meanOutageMinutes: perHour > 0 ? (importance.unavailability / perHour) * 60 : null,
  };
}
