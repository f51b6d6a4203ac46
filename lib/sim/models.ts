/**
 * The simulated physics: each value follows a daily cycle on the UTC hour of its event
 * time (warm afternoons, light and crowds by day) plus Gaussian noise, clamped well
 * inside the validator's ranges. Magnitudes follow the seed datasets (Kaggle IOT-temp:
 * whole °C, In ≈ 27–33, Out ≈ 30–42; the campus sensors' columns and decimals).
 */
import type { Random } from './random';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function hourOf(ts: number): number {
  return (((ts % DAY) + DAY) % DAY) / HOUR;
}

/** 1 at 15:00 UTC, −1 at 03:00. */
export function warmth(ts: number): number {
  return Math.cos((2 * Math.PI * (hourOf(ts) - 15)) / 24);
}

/** 0 from 18:00 to 06:00 UTC, rising to 1 at noon. */
export function daylight(ts: number): number {
  return Math.max(0, Math.sin((Math.PI * (hourOf(ts) - 6)) / 12));
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const round = (x: number, decimals: number) => Math.round(x * 10 ** decimals) / 10 ** decimals;

/** A device's fixed offsets from the average device, drawn once. */
export interface DeviceBias {
  temperature: number;
  humidity: number;
  crowd: number;
}

export function drawBias(random: Random): DeviceBias {
  return {
    temperature: random.normal(),
    humidity: 4 * random.normal(),
    crowd: 0.6 + 0.8 * random.next(),
  };
}

/** Whole °C, as the Kaggle export has them. */
export function roomTemperature(random: Random, ts: number, outside: boolean, bias: DeviceBias): number {
  const t = outside
    ? 36 + bias.temperature + 5 * warmth(ts) + 1.5 * random.normal()
    : 30 + bias.temperature + 1.5 * warmth(ts) + 0.8 * random.normal();
  return Math.round(clamp(t, outside ? 22 : 20, outside ? 50 : 40));
}

/** The measured columns of one campus reading (all but timestamp and location_id). */
export function environment(random: Random, ts: number, bias: DeviceBias): Record<string, number> {
  const w = warmth(ts);
  const d = daylight(ts);
  const stress = Math.round(clamp(30 + 15 * d + 12 * random.normal(), 1, 99));
  return {
    temperature_celsius: round(clamp(22 + bias.temperature + 3 * w + 0.6 * random.normal(), 5, 45), 2),
    humidity_percent: round(clamp(60 + bias.humidity - 8 * w + 3 * random.normal(), 15, 95), 2),
    air_quality_index: Math.round(clamp(60 + 40 * d + 15 * random.normal(), 5, 300)),
    noise_level_db: round(clamp(38 + 20 * d + 4 * random.normal(), 20, 110), 2),
    lighting_lux: round(clamp(40 + 460 * d + 30 * random.normal(), 5, 5000), 2),
    crowd_density: Math.round(clamp(bias.crowd * (3 + 50 * d) + 5 * random.normal(), 0, 500)),
    stress_level: stress,
    sleep_hours: round(clamp(6.5 + 1.1 * random.normal(), 3, 11), 2),
    mood_score: round(clamp(3 - stress / 35 + 0.6 * random.normal(), 0, 5), 1),
    mental_health_status: statusOf(stress + 8 * random.normal()),
  };
}

/** 0 fine, 1 strained, 2 at risk: the dataset's status follows stress. */
function statusOf(stress: number): number {
  return stress < 45 ? 0 : stress < 75 ? 1 : 2;
}
