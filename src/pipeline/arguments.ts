/**
 * Errors about arguments, told in the caller's words: the pipeline names its own parameters
 * (`normalClass`, `k`…), the command line its flags (`--normal-class`), a protocol its fields
 * (`protocol.validationFraction`).
 */

import { InvalidArgumentError } from '../errors.js';

/** A constructor of argument errors (`InvalidArgumentError` or a subclass such as the command line's). */
export type ArgumentErrorClass = new (argument: string, expected: string) => InvalidArgumentError;

/**
 * Runs `run`, and rethrows an {@link InvalidArgumentError} whose argument `names` maps as
 * the same error about the mapped name (e.g. `normalClass` → `--normal-class`), built with
 * `as` (e.g. the command line's option error). Other errors pass unchanged.
 */
export function renameArguments<T>(
  run: () => T,
  names: Readonly<Record<string, string>>,
  as: ArgumentErrorClass = InvalidArgumentError,
): T {
  try {
    const value = run();
    if (value instanceof Promise) return value.catch((e: unknown) => Promise.reject(renamed(e, names, as))) as T;
    return value;
  } catch (e) {
    throw renamed(e, names, as);
  }
}

/** `e` about its mapped argument name (see {@link renameArguments}), else `e` itself. */
export function renamed(e: unknown, names: Readonly<Record<string, string>>, as: ArgumentErrorClass): unknown {
  if (!(e instanceof InvalidArgumentError) || !Object.hasOwn(names, e.argument)) return e;
  const name = names[e.argument];
  const copy = new as(name, '');
  copy.message = e.message.replace(`Invalid ${e.argument}:`, `Invalid ${name}:`);
  return copy;
}
