/** Values from a node's editor form, which arrive as strings, numbers or nothing. */

/** A number from a form field; `fallback` when the field is empty or absent. */
export function numberOr(value: string | number | undefined, fallback: number): number {
  return value === undefined || value === '' ? fallback : Number(value);
}
