/** Where the CLI writes: stdout for results, stderr for notes and errors. Tests pass their own. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

/** The process's own streams. */
export const processIO: CliIO = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** An error the CLI reports as one line (no stack trace) before exiting non-zero. */
export class CliError extends Error {
  constructor(
    message: string,
    /** The process exit code. */
    public readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
