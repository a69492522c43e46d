/**
 * A byte-level CSV reader for files without quote characters (numeric tables, the large case), feeding
 * the TableReader field byte ranges instead of strings.
 *
 * Why hand-written: csv-parse, which reads every other file, and the npm CSV parsers checked (papaparse,
 * fast-csv, d3-dsv, udsv, @vanillaes/csv, csv-rex; @loaders.gl/csv wraps papaparse) all hand back a JS
 * string per field, and making those strings was over half of a 1M-row load (bench:data missed its
 * 2x-pandas target because of it); none parses numbers from bytes into a typed array. DuckDB's and
 * Polars' npm packages do, but as native query engines with their own errors, not CSV readers.
 *
 * It keeps csv-parse's behaviour under the loader's options (bom, skip_empty_lines,
 * relax_column_count): the record delimiter is the first line break's (\r\n, \n or \r) and only that
 * one ends records; empty lines are skipped; a last line without a line break is a record. A quote
 * character anywhere, or a UTF-16 byte order mark, ends it with NeedsCsvParse: the caller reads the
 * file with csv-parse instead. Records are numbered as csv-parse numbers them, so errors name the same line.
 */
import { open } from 'node:fs/promises';
import type { TableReader } from './csv-reader.js';

/** The file holds something only csv-parse reads (a quote, a UTF-16 byte order mark). */
export class NeedsCsvParse extends Error {}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const CHUNK = 1 << 20;

enum Break {
  Unknown,
  Lf,
  CrLf,
  Cr,
}

export interface ByteReadOptions {
  delimiter: string;
  /** Bytes read so far (progress). */
  onBytes?: (bytes: number) => void;
}

/** Reads `file` into `reader`; throws NeedsCsvParse (before any record past it is read) when it cannot. */
export async function readBytes(file: string, reader: TableReader, o: ByteReadOptions): Promise<void> {
  const delimiter = o.delimiter.charCodeAt(0);
  if (o.delimiter.length !== 1 || delimiter === QUOTE || delimiter === LF || delimiter === CR) {
    throw new NeedsCsvParse('delimiter');
  }
  const handle = await open(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(CHUNK);
    let starts: Int32Array = new Int32Array(64);
    let ends: Int32Array = new Int32Array(64);
    let filled = 0; // bytes of buf holding data
    let pos = 0; // start of the record being read
    let read = 0;
    let eof = false;
    let first = true;
    let lineBreak = Break.Unknown;
    for (;;) {
      // Keep the unfinished record, then fill the rest of the buffer (grown when one record fills it).
      if (pos > 0) {
        buf.copyWithin(0, pos, filled);
        filled -= pos;
        pos = 0;
      }
      if (filled === buf.length) {
        const grown = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(grown, 0, 0, filled);
        buf = grown;
      }
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, null);
      if (bytesRead === 0) eof = true;
      if (buf.subarray(filled, filled + bytesRead).includes(QUOTE)) throw new NeedsCsvParse('quote');
      filled += bytesRead;
      read += bytesRead;
      o.onBytes?.(read);
      if (first) {
        first = false;
        if (filled >= 2 && buf[0] === 0xff && buf[1] === 0xfe) throw new NeedsCsvParse('UTF-16');
        if (filled >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
      }

      let n = 0;
      let fieldStart = pos;
      let i = pos;
      while (i < filled) {
        const c = buf[i]!;
        if (c === delimiter) {
          if (n === starts.length) [starts, ends] = [grow(starts), grow(ends)];
          starts[n] = fieldStart;
          ends[n++] = i;
          fieldStart = ++i;
          continue;
        }
        if (c !== LF && c !== CR) {
          i++;
          continue;
        }
        if (lineBreak === Break.Unknown) {
          if (c === LF) lineBreak = Break.Lf;
          else if (i + 1 < filled) lineBreak = buf[i + 1] === LF ? Break.CrLf : Break.Cr;
          else if (eof) lineBreak = Break.Cr;
          else break; // a \r at the end of the buffer: the next byte decides
        }
        let length = 0;
        if (lineBreak === Break.Lf) length = c === LF ? 1 : 0;
        else if (lineBreak === Break.Cr) length = c === CR ? 1 : 0;
        else if (c === CR) {
          if (i + 1 >= filled && !eof) break; // is it followed by \n? read on
          length = i + 1 < filled && buf[i + 1] === LF ? 2 : 0;
        }
        if (length === 0) {
          i++; // a line break of another kind is part of the field, as in csv-parse
          continue;
        }
        if (n > 0 || fieldStart < i) {
          if (n === starts.length) [starts, ends] = [grow(starts), grow(ends)];
          starts[n] = fieldStart;
          ends[n++] = i;
          reader.onFields(buf, starts, ends, n);
        }
        i += length;
        pos = i;
        fieldStart = i;
        n = 0;
      }
      if (eof) {
        if (n > 0 || fieldStart < filled) {
          if (n === starts.length) [starts, ends] = [grow(starts), grow(ends)];
          starts[n] = fieldStart;
          ends[n++] = filled;
          reader.onFields(buf, starts, ends, n);
        }
        return;
      }
    }
  } finally {
    await handle.close();
  }
}

function grow(a: Int32Array): Int32Array {
  const out = new Int32Array(a.length * 2);
  out.set(a);
  return out;
}
