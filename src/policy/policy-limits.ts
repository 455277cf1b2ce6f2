/** Moved to src/core/limits.ts; re-exported for importers not yet switched. */
export { monthHours, monthMinutes, policyLimits } from '../core/limits.ts';
