/**
 * Typed errors. Every error ckaad throws on bad input is a {@link CkaadError} whose
 * message names the offending argument, file or tensor and what was expected.
 */

/** Base class of every error ckaad throws on purpose. */
export class CkaadError extends Error {
  /** Machine-readable error kind, e.g. `'invalid-argument'`. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An argument or option has a value outside what the function accepts. */
export class InvalidArgumentError extends CkaadError {
  /** Name of the argument or option, e.g. `'labels'` or `'options.sigma'`. */
  readonly argument: string;

  constructor(argument: string, expected: string, found?: string) {
    super(
      'invalid-argument',
      `Invalid ${argument}: expected ${expected}` + (found === undefined ? '.' : `, found ${found}.`),
    );
    this.argument = argument;
  }
}

/** Two inputs that must agree in length or shape do not. */
export class ShapeMismatchError extends CkaadError {
  constructor(what: string, expected: string, found: string) {
    super('shape-mismatch', `Shape mismatch in ${what}: expected ${expected}, found ${found}.`);
  }
}

/** A file could not be read or does not have the expected format. */
export class FileFormatError extends CkaadError {
  /** Path of the file (or `'<bytes>'` for in-memory input). */
  readonly path: string;

  constructor(path: string, problem: string) {
    super('file-format', `${path}: ${problem}`);
    this.path = path;
  }
}

/** One named tensor that is missing, unexpected, or of the wrong shape in a weights file. */
export interface WeightProblem {
  name: string;
  kind: 'missing' | 'unexpected' | 'shape';
  expected?: readonly number[];
  found?: readonly number[];
}

/** A weights file does not match the architecture: lists every offending tensor at once. */
export class WeightsMismatchError extends CkaadError {
  readonly problems: readonly WeightProblem[];

  constructor(source: string, problems: readonly WeightProblem[]) {
    const lines = problems.map((p) => {
      const shape = (s?: readonly number[]) => (s ? `[${s.join(', ')}]` : '?');
      if (p.kind === 'missing') return `  missing: ${p.name} (expected ${shape(p.expected)})`;
      if (p.kind === 'unexpected') return `  unexpected: ${p.name} (found ${shape(p.found)})`;
      return `  wrong shape: ${p.name} (expected ${shape(p.expected)}, found ${shape(p.found)})`;
    });
    super(
      'weights-mismatch',
      `${source}: weights do not match the architecture (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    );
    this.problems = problems;
  }
}

/** A tfjs backend could not be selected or lacks something ckaad needs. */
export class BackendError extends CkaadError {
  constructor(message: string) {
    super('backend', message);
  }
}

/**
 * A feature that needs Node.js (a file path, a dataset folder, a worker thread) was used from
 * the universal `ckaad` entry where Node's part is not loaded: the message names `ckaad/node`
 * and what to pass instead.
 */
export class NodeOnlyError extends CkaadError {
  constructor(what: string, instead: string) {
    super(
      'node-only',
      `${what} needs Node.js and the ckaad/node entry (\`import 'ckaad/node'\`, or use ckaad's Node build); ${instead}.`,
    );
  }
}
