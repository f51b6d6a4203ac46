/** Writing a generated CSV file: a header and `rows` lines made by `line(i)`, streamed in ~1 MB chunks. */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

/** Writes `header` and `rows` lines `line(0)`…`line(rows - 1)` (LF); resolves with the file size in bytes. */
export async function writeGeneratedCsv(
  path: string,
  header: string,
  rows: number,
  line: (i: number) => string,
): Promise<number> {
  const out = createWriteStream(path);
  out.write(`${header}\n`);
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    chunk += `${line(i)}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return out.bytesWritten;
}
