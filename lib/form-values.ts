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

/**
 * A form field with a type (`str`, `num` or `env`): the text itself, or the value of the named
 * environment variable, looked up by `env` (Node-RED's lookup, which also sees flow and
 * group variables). A flow saved before the field had a type holds text. An unset
 * variable is an error that names it, never an empty value taken for "use the default".
 */
export function textOrEnv(
  value: string | number | undefined,
  type: string | undefined,
  env: (name: string) => unknown,
  what: string,
): string {
  if (type !== 'env') return String(value ?? '');
  const name = String(value ?? '')
    .trim()
    .replace(/^\$\{(.*)\}$/, '$1');
  if (!name) throw new Error(`${what}: name the environment variable to read`);
  const found = env(name);
  if (found === undefined || found === null || found === '') {
    throw new Error(`${what}: the environment variable ${name} is not set`);
  }
  return String(found);
}
