/**
 * The two schemas the simulator produces, as CSV columns, and what the built-in
 * validation profiles demand of those columns (keys, numbers and their ranges), read
 * from the profiles themselves so that faults break exactly the rules that exist.
 */
import { PROFILES } from '../validate/profiles';

export type SimSchema = 'iot-temp' | 'iot-environment';

export const SIM_SCHEMAS: readonly SimSchema[] = ['iot-temp', 'iot-environment'];

export const SIM_HEADERS: Readonly<Record<SimSchema, readonly string[]>> = {
  'iot-temp': ['id', 'room_id/id', 'noted_date', 'temp', 'out/in'],
  'iot-environment': [
    'timestamp',
    'location_id',
    'temperature_celsius',
    'humidity_percent',
    'air_quality_index',
    'noise_level_db',
    'lighting_lux',
    'crowd_density',
    'stress_level',
    'sleep_hours',
    'mood_score',
    'mental_health_status',
  ],
};

/** A numeric input column and its valid range. */
export interface NumericColumn {
  column: string;
  min: number;
  max: number;
}

export interface SchemaRules {
  /** Input columns of the key fields. */
  keys: string[];
  /** Input columns holding bounded numbers. */
  numeric: NumericColumn[];
}

function rulesOf(schema: SimSchema): SchemaRules {
  const profile = PROFILES[schema];
  const column = (field: string) => {
    const rule = profile.fields.find((f) => f.field === field)!;
    return rule.from ?? rule.field;
  };
  return {
    keys: profile.key.map(column),
    numeric: profile.fields.flatMap((f) =>
      f.type === 'number' && f.min !== undefined && f.max !== undefined
        ? [{ column: f.from ?? f.field, min: f.min, max: f.max }]
        : [],
    ),
  };
}

export const SCHEMA_RULES: Readonly<Record<SimSchema, SchemaRules>> = {
  'iot-temp': rulesOf('iot-temp'),
  'iot-environment': rulesOf('iot-environment'),
};

export function isSimSchema(value: unknown): value is SimSchema {
  return SIM_SCHEMAS.includes(value as SimSchema);
}
