/**
 * The kinds of fault the simulator injects and how often: rates per kind (0..1), read
 * from an object or from a text such as `null-key: 0.01, duplicate 2%`.
 */

export type FaultKind =
  'null-key' | 'out-of-range' | 'malformed' | 'wrong-type' | 'duplicate' | 'late' | 'half-written';

export const FAULT_KINDS: readonly FaultKind[] = [
  'null-key',
  'out-of-range',
  'malformed',
  'wrong-type',
  'duplicate',
  'late',
  'half-written',
];

/** Probability 0..1 per reading ('half-written': per file). */
export type FaultRates = Partial<Record<FaultKind, number>>;

function rateOf(entry: string, kind: string, value: unknown): [FaultKind, number] {
  if (!FAULT_KINDS.includes(kind as FaultKind)) {
    throw new Error(`fault rate "${entry}": unknown fault kind "${kind}" (known: ${FAULT_KINDS.join(', ')})`);
  }
  let rate = NaN;
  if (typeof value === 'number') rate = value;
  else if (typeof value === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)\s*%?\s*$/.test(value)) {
    rate = value.includes('%') ? parseFloat(value) / 100 : parseFloat(value);
  }
  if (!(rate >= 0 && rate <= 1)) {
    throw new Error(`fault rate "${entry}": the rate must be a number from 0 to 1 (or 0% to 100%)`);
  }
  return [kind as FaultKind, rate];
}

function fromObject(input: object): FaultRates {
  const rates: FaultRates = {};
  for (const [kind, value] of Object.entries(input)) {
    const [k, rate] = rateOf(`${kind}: ${String(value)}`, kind, value);
    rates[k] = rate;
  }
  return rates;
}

function fromText(text: string): FaultRates {
  const rates: FaultRates = {};
  for (const raw of text.split(/[,;\n]/)) {
    const entry = raw.trim();
    if (!entry) continue;
    const m = /^([A-Za-z-]+)\s*(?:[:=]\s*|\s+)(.+)$/.exec(entry);
    if (!m) throw new Error(`fault rate "${entry}": write it as <kind>: <rate>, e.g. "duplicate: 0.02"`);
    const [kind, rate] = rateOf(entry, m[1], m[2]);
    rates[kind] = rate;
  }
  return rates;
}

/** Rates from an object (`{duplicate: 0.02}`), a JSON object text, or `kind: rate` entries. */
export function parseFaultRates(input: unknown): FaultRates {
  if (input === undefined || input === null) return {};
  if (typeof input === 'string') {
    const text = input.trim();
    if (!text.startsWith('{')) return fromText(text);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new Error(`fault rates: not a JSON object (${(err as Error).message})`);
    }
    return parseFaultRates(parsed);
  }
  if (typeof input === 'object' && !Array.isArray(input)) return fromObject(input);
  throw new Error(
    `fault rates must be an object or a text like "duplicate: 0.02", not ${JSON.stringify(input)}`,
  );
}
