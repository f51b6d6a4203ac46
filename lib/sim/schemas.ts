/**
 * The two schemas the simulator produces, as CSV columns, and what the built-in
 * validation profiles demand of those columns (keys, numbers and their ranges), read
 * from the profiles themselves so that faults break exactly the rules that exist.
 */
import { inputColumns, PROFILES } from '../validate/profiles';

export type SimSchema = 'iot-temp' | 'iot-environment';

export const SIM_SCHEMAS: readonly SimSchema[] = ['iot-temp', 'iot-environment'];

/** The CSV columns in order: the input columns of the built-in profile of the same name. */
export const SIM_HEADERS: Readonly<Record<SimSchema, readonly string[]>> = {
  'iot-temp': inputColumns(PROFILES['iot-temp']),
  'iot-environment': inputColumns(PROFILES['iot-environment']),
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
