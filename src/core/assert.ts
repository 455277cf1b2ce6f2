/** Programmer-error assertions: a failed one means a bug, so it throws and the process crashes. */

/** Thrown only for broken invariants, never for bad input (that is a QuorateError). */
class AssertionFailure extends Error {
  override name = 'AssertionFailure';
}

/** Asserts `condition`; the message says what should have held. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}

/**
 * True for a failed assertion. Boundaries that turn errors from the network into a refusal or a
 * closed connection must let these through: a broken invariant crashes the process.
 */
export function isAssertionFailure(error: unknown): boolean {
  return error instanceof AssertionFailure;
}

/** Marks an impossible branch in an exhaustive switch. */
export function unreachable(value: never): never {
  throw new AssertionFailure(`unreachable: ${JSON.stringify(value)}`);
}
