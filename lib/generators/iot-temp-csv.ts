/**
 * Large CSV files shaped like seed 000's IoT-temp data (`id,room_id/id,noted_date,temp,out/in`),
 * deterministic in the row number, for tests and benchmarks that need size rather than realism.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

export const IOT_TEMP_HEADER = 'id,room_id/id,noted_date,temp,out/in';

export function iotTempLine(i: number): string {
  const day = String(1 + (i % 28)).padStart(2, '0');
  const minute = String(i % 60).padStart(2, '0');
  const tag = ((i * 2654435761) % 4294967296).toString(16);
  return `__export__.temp_log_${i}_${tag},Room Admin,${day}-12-2018 09:${minute},${20 + (i % 23)},${i % 3 ? 'In' : 'Out'}`;
}

/** Writes a header and `rows` data lines (LF); resolves with the file size in bytes. */
export async function writeIotTempCsv(path: string, rows: number): Promise<number> {
  const out = createWriteStream(path);
  out.write(`${IOT_TEMP_HEADER}\n`);
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    chunk += `${iotTempLine(i)}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return out.bytesWritten;
}
