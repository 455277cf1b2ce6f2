/** Moved to src/core/limits.ts; re-exported for importers not yet switched. */
export { celVelocityWindows, int64Max, ruleLimits } from '../../core/limits.ts';
