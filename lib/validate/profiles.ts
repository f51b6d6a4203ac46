/**
 * The built-in rule sets, from the two pipelines this pack replaces (DESIGN.md):
 * `iot-temp` is seed 000's Kaggle IOT-temp file, `iot-environment` seed 004's campus
 * sensors with the ranges of its validator. Both name their event time `ts`.
 */
import type { RuleSetInput } from './rules';

const range = (min: number, max: number) => ({ type: 'number' as const, min, max, metric: true });

export const PROFILES: Readonly<Record<string, RuleSetInput>> = {
  'iot-temp': {
    name: 'iot-temp',
    version: 'iot-temp/1',
    fields: [
      { field: 'id', type: 'string', required: true },
      { field: 'room_id', from: 'room_id/id', type: 'string', required: true },
      { field: 'ts', from: 'noted_date', type: 'timestamp', required: true, formats: ['dd-mm-yyyy HH:MM'] },
      { field: 'temp', ...range(-50, 60), required: true, unit: '°C' },
      { field: 'out_in', from: 'out/in', type: 'string', required: true, enum: ['In', 'Out'] },
    ],
    key: ['id'],
    table: 'temperature_readings',
  },
  'iot-environment': {
    name: 'iot-environment',
    version: 'iot-environment/1',
    fields: [
      {
        field: 'ts',
        from: 'timestamp',
        type: 'timestamp',
        formats: ['yyyy-mm-dd HH:MM:SS', 'yyyy-mm-dd HH:MM'],
      },
      { field: 'location_id', type: 'string' },
      { field: 'temperature_celsius', ...range(-50, 60), unit: '°C' },
      { field: 'humidity_percent', ...range(0, 100), unit: '%' },
      { field: 'air_quality_index', ...range(0, 500), unit: 'AQI' },
      { field: 'noise_level_db', ...range(0, 130), unit: 'dB' },
      { field: 'lighting_lux', ...range(0, 100000), unit: 'lx' },
      { field: 'crowd_density', ...range(0, 1000) },
      { field: 'stress_level', ...range(0, 100) },
      { field: 'sleep_hours', ...range(0, 24), unit: 'h' },
      { field: 'mood_score', ...range(0, 5) },
      { field: 'mental_health_status', type: 'string' },
    ],
    key: ['location_id', 'ts'],
    table: 'environment_readings',
  },
};

/** The input columns a rule set reads (constants aside). */
export function inputColumns(rules: RuleSetInput): string[] {
  return rules.fields.flatMap((f) => (f.constant !== undefined ? [] : (f.join ?? [f.from ?? f.field])));
}

/** The input columns of the fields a record must have: required ones and the key. */
function requiredColumns(rules: RuleSetInput): string[] {
  return inputColumns({
    ...rules,
    fields: rules.fields.filter((f) => f.required || rules.key?.includes(f.field)),
  });
}

/** Each built-in profile's input, known and required columns, worked out once (MQTT asks for every reading). */
const SHAPES = Object.entries(PROFILES).map(([name, rules]) => {
  const inputs = inputColumns(rules);
  return { name, inputs, known: new Set(inputs), required: requiredColumns(rules) };
});

/**
 * The built-in profile a record fits: it has every input column of the profile (a file
 * may have more), or it has the required and key columns and nothing the profile does
 * not know (a sensor may send some measurements only). Undefined when none fits.
 */
export function detectProfile(columns: Iterable<string>): string | undefined {
  const have = new Set(columns);
  return SHAPES.find(({ inputs, known, required }) => {
    if (inputs.every((c) => have.has(c))) return true;
    return required.every((c) => have.has(c)) && [...have].every((c) => known.has(c));
  })?.name;
}

/**
 * For columns no profile fits: the built-in profile sharing the most input columns with
 * them, and the required and key columns it lacks (undefined when none shares any).
 */
export function closestProfile(columns: Iterable<string>): { name: string; missing: string[] } | undefined {
  const have = new Set(columns);
  let best: { name: string; missing: string[]; shared: number } | undefined;
  for (const { name, inputs, required } of SHAPES) {
    const shared = inputs.filter((c) => have.has(c)).length;
    if (shared && (!best || shared > best.shared)) {
      best = { name, shared, missing: required.filter((c) => !have.has(c)) };
    }
  }
  return best && { name: best.name, missing: best.missing };
}
