/** How a party says no: a refusal travels back to the coordinator in a `refuse` envelope. */
import { QuorateError, type ErrorCode } from '../core/errors.ts';
import type { WireRefusal } from '../transport/wire.ts';

/** A refusal sent back to the coordinator. `hard` means: do not ask this party again. */
export class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hard: boolean,
  ) {
    super(message);
  }
}

/** Any error as a refusal: a QuorateError keeps its code; anything else is internal. */
export function refusalOf(error: unknown): Refusal {
  if (error instanceof Refusal) return error;
  if (error instanceof QuorateError) return new Refusal(error.code, error.message, false);
  return new Refusal('QUORATE_E_INTERNAL', String(error), false);
}

/** A wire validator's refusal as a party refusal. */
export function refusalFromWire(refused: WireRefusal, hard: boolean): Refusal {
  return new Refusal(refused.code, refused.reason, hard);
}
