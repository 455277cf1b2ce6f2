/**
 * Long-run availability of one component as the exact model sees it: the random process times
 * the fraction of time outside maintenance times the fraction of the day online. The exact model
 * treats these as independent; the Monte Carlo simulator also captures how they align in time.
 */
import type { ComponentSpec, DailyWindow, MaintenanceWindow } from './policy-schema.ts';

/** Fraction of time outside the maintenance window. */
function maintenanceUpFraction(window: MaintenanceWindow | null): number {
  return window === null ? 1 : 1 - window.durationHours / window.everyHours;
}

/** Fraction of the day inside the online window. */
function dailyOnlineFraction(window: DailyWindow | null): number {
  if (window === null) return 1;
  return ((window.toHour - window.fromHour + 24) % 24) / 24;
}

/** True when the component has schedules or non-exponential outages (Monte Carlo territory). */
export function hasTimeStructure(
  component: ComponentSpec & { dailyOnline?: DailyWindow | null },
): boolean {
  return (
    component.maintenance !== null ||
    (component.dailyOnline ?? null) !== null ||
    component.outage.distribution !== 'exponential'
  );
}

/** Availability used by the exact model. */
export function effectiveAvailability(
  component: ComponentSpec & { dailyOnline?: DailyWindow | null },
): number {
  return (
    component.randomAvailability *
    maintenanceUpFraction(component.maintenance) *
    dailyOnlineFraction(component.dailyOnline ?? null)
  );
}
