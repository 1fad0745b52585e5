/**
 * The error taxonomy, in one place. An *expected* error is one the user can fix: bad input
 * (a broken file, a missing tokenizer.json, a selector that matches nothing), a bad argument
 * value, an environment that lacks something. Its message alone says what and where, so the
 * command line prints just the message and exits 1. Anything else is a bug in nemotron-lab:
 * the command line prints its stack and asks for a report.
 *
 * - UserError: the base of every expected error (CheckpointError, SelectorError, UsageError,
 *   tokenizer, generation and export input errors derive from it).
 * - ArgumentError: a library argument out of its domain; a RangeError, so callers that catch
 *   RangeError keep working.
 * The mark is a registered symbol as well as the class, so errors made in another realm (a
 * notebook cell's VM context, another copy of the package) are recognised too.
 */
const EXPECTED = Symbol.for("nemotron-lab.expected-error");

export class UserError extends Error {
  override name = "UserError";
  readonly [EXPECTED] = true;
}

export class ArgumentError extends RangeError {
  override name = "ArgumentError";
  readonly [EXPECTED] = true;
}

/** True for errors the user can fix (their message is the whole story); false for bugs. */
export function isUserError(e: unknown): e is Error {
  return e instanceof Error && (e as unknown as Record<symbol, unknown>)[EXPECTED] === true;
}
