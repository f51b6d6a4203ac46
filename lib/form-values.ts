/** Values from a node's editor form, which arrive as strings, numbers or nothing. */

/** A comma-separated form field as its non-empty items, trimmed. */
export function listOf(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** A number from a form field; `fallback` when the field is empty or absent. */
export function numberOr(value: string | number | undefined, fallback: number): number {
  return value === undefined || value === '' ? fallback : Number(value);
}
