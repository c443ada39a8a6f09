/**
 * A small CSV parser (RFC 4180: comma-separated, double-quoted fields with `""` escapes,
 * CRLF or LF line ends) for the dataset index files of VisA and ISIC 2018.
 */

import { readFile } from 'node:fs/promises';
import { FileFormatError } from '../../errors.js';

/** A parsed CSV file: the header row and the data rows as records keyed by column. */
export interface CsvTable {
  /** Column names from the first row. */
  columns: string[];
  /** Data rows; `line` is the 1-based line number in the file (for error messages). */
  rows: { line: number; values: Record<string, string> }[];
}

/** Split CSV text into rows of fields. Empty lines are skipped. */
export function parseCsvRows(text: string, path = '<csv>'): { line: number; fields: string[] }[] {
  const rows: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark
  const endRow = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
  };
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      field += ch;
    }
  }
  if (quoted) throw new FileFormatError(path, `line ${rowLine}: unterminated quoted field`);
  if (field !== '' || fields.length > 0) endRow();
  return rows;
}

/**
 * Read a CSV file with a header row.
 *
 * @param requiredColumns columns that must be present in the header.
 * @throws FileFormatError naming the file for a missing file, a missing column, or a row
 *   whose field count differs from the header's.
 */
export async function readCsv(path: string, requiredColumns: readonly string[] = []): Promise<CsvTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileFormatError(path, code === 'ENOENT' ? 'CSV file not found' : (e as Error).message);
  }
  const rows = parseCsvRows(text, path);
  if (rows.length === 0) throw new FileFormatError(path, 'empty CSV file (expected a header row)');
  const columns = rows[0].fields.map((c) => c.trim());
  const missing = requiredColumns.filter((c) => !columns.includes(c));
  if (missing.length > 0) {
    throw new FileFormatError(path, `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (found ${columns.join(', ')})`);
  }
  const data = rows.slice(1).map(({ line, fields }) => {
    if (fields.length !== columns.length) {
      throw new FileFormatError(path, `line ${line}: ${fields.length} fields, expected ${columns.length} (${columns.join(', ')})`);
    }
    const values: Record<string, string> = {};
    columns.forEach((c, j) => (values[c] = fields[j]));
    return { line, values };
  });
  return { columns, rows: data };
}
