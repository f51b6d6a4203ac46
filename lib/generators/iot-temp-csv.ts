/**
 * Large CSV files shaped like seed 000's IoT-temp data (`id,room_id/id,noted_date,temp,out/in`),
 * deterministic in the row number, for tests and benchmarks that need size rather than realism.
 */
import { writeGeneratedCsv } from './csv-file';

export const IOT_TEMP_HEADER = 'id,room_id/id,noted_date,temp,out/in';

export function iotTempLine(i: number): string {
  const day = String(1 + (i % 28)).padStart(2, '0');
  const minute = String(i % 60).padStart(2, '0');
  const tag = ((i * 2654435761) % 4294967296).toString(16);
  return `__export__.temp_log_${i}_${tag},Room Admin,${day}-12-2018 09:${minute},${20 + (i % 23)},${i % 3 ? 'In' : 'Out'}`;
}

/** Writes a header and `rows` data lines (LF); resolves with the file size in bytes. */
export function writeIotTempCsv(path: string, rows: number): Promise<number> {
  return writeGeneratedCsv(path, IOT_TEMP_HEADER, rows, iotTempLine);
}
