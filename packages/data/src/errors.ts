/**
 * Typed errors. A DataError's message is one line naming the file, row/line and column, ready for
 * the CLI to print before exiting with code 2; the fields let callers build other messages.
 */

export interface DataErrorWhere {
  file?: string;
  /** 1-based line of a text file (the header is line 1). */
  line?: number;
  column?: string;
}

/** Bad input data: a file, row or column that cannot be used. */
export class DataError extends Error {
  override name = 'DataError';
  readonly file?: string;
  readonly line?: number;
  readonly column?: string;

  constructor(problem: string, where: DataErrorWhere = {}) {
    super(formatWhere(where) + problem);
    if (where.file !== undefined) this.file = where.file;
    if (where.line !== undefined) this.line = where.line;
    if (where.column !== undefined) this.column = where.column;
  }
}

function formatWhere({ file, line, column }: DataErrorWhere): string {
  const parts: string[] = [];
  if (file !== undefined) parts.push(line !== undefined ? `${file}:${line}` : file);
  else if (line !== undefined) parts.push(`line ${line}`);
  if (column !== undefined) parts.push(`column '${column}'`);
  return parts.length > 0 ? `${parts.join(', ')}: ` : '';
}

/** A named-feature record that does not fit the tabular schema (missing, extra, mistyped, unknown category). */
export class FieldError extends Error {
  override name = 'FieldError';
  constructor(
    /** The offending field's name. */
    readonly field: string,
    problem: string,
    /** Index of the record in the batch. */
    readonly row?: number,
  ) {
    super(`${row !== undefined ? `instance ${row}: ` : ''}field '${field}': ${problem}`);
  }
}

/** An image that cannot be used: undecodable, truncated, or over the pixel limit (`tooLarge`, HTTP 413). */
export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
  constructor(
    message: string,
    readonly tooLarge = false,
  ) {
    super(message);
  }
}
