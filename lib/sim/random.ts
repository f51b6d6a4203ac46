/**
 * Seeded pseudo-random numbers for the simulator (mulberry32, normals by Box–Muller):
 * the same seed gives the same sequence, so a simulated run can be repeated exactly.
 */

/** A 32-bit hash of a text (FNV-1a, then murmur3's finalizer to spread the bits). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Random {
  private state: number;
  private spare: number | undefined;

  constructor(seed: number) {
    if (typeof seed !== 'number' || !Number.isFinite(seed)) {
      throw new Error(`the random seed must be a finite number, not ${String(seed)}`);
    }
    this.state = hash32(String(seed));
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in 0..n-1. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Random.int needs a positive whole number, not ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Standard normal N(0, 1). */
  normal(): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return z;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - this.next()));
    const angle = 2 * Math.PI * this.next();
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  pick<T>(xs: readonly T[]): T {
    if (!xs.length) throw new Error('Random.pick needs a non-empty list');
    return xs[this.int(xs.length)];
  }

  /** `n` lowercase hexadecimal digits. */
  hex(n: number): string {
    let text = '';
    for (let i = 0; i < n; i++) text += this.int(16).toString(16);
    return text;
  }
}
