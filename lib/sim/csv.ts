/** Simulated items as the text of a CSV file, with the line number of each item. */
import { csvField } from './corrupt';
import type { SimItem } from './faults';
import { SIM_HEADERS, type SimSchema } from './schemas';

function lineBreaks(text: string): number {
  return (text.match(/\r\n|\r|\n/g) ?? []).length;
}

/**
 * The CSV text of a file of items: the header line, then one line per item (item.text
 * for malformed ones); LF line ends; fields quoted only when they contain the delimiter,
 * a quote or a line break; null is an empty field. `lines[i]` is the 1-based line number
 * of items[i] (the header is line 1).
 */
export function renderCsv(schema: SimSchema, items: readonly SimItem[]): { text: string; lines: number[] } {
  const columns = SIM_HEADERS[schema];
  const rows = [columns.map((c) => csvField(c)).join(',')];
  const lines: number[] = [];
  let line = 2;
  for (const item of items) {
    const row = item.text ?? columns.map((c) => csvField(item.record[c])).join(',');
    lines.push(line);
    line += 1 + lineBreaks(row);
    rows.push(row);
  }
  return { text: `${rows.join('\n')}\n`, lines };
}
