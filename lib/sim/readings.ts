/**
 * Simulated sensor readings of the two seed schemas: a fixed set of devices (iot-temp:
 * an In and an Out device per room; iot-environment: one per location), and a
 * generator giving each device one reading per tick, deterministic in its options and
 * the sequence of tick times.
 */
import { drawBias, environment, roomTemperature, type DeviceBias } from './models';
import { hash32, Random } from './random';
import { isSimSchema, SIM_SCHEMAS, type SimSchema } from './schemas';
import { notedDate, sqlTimestamp } from './time-text';

export { SIM_HEADERS, SIM_SCHEMAS, type SimSchema } from './schemas';

export interface SimDevice {
  /** iot-temp: `<room slug>-in` / `-out`; iot-environment: the location. */
  id: string;
  location: string;
  /** Position in the generator's device list. */
  index: number;
}

export type SimRecord = Record<string, string | number | null>;

export interface SimReading {
  device: SimDevice;
  /** Event time, ms since the epoch, a whole second. */
  ts: number;
  /** The fields as a CSV row or JSON message has them. */
  record: SimRecord;
  /** Idempotency key: iot-temp the `id`; iot-environment `${location_id}@${timestamp}`. */
  key: string;
}

export interface GeneratorOptions {
  schema: SimSchema;
  locations: readonly string[];
  seed: number;
  /** Event time of the first tick, ms; default now. */
  start?: number;
  /** Event time between ticks, ms; default and minimum 1000. */
  stepMs?: number;
}

const MIN_STEP = 1000;

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function devicesOf(schema: SimSchema, locations: readonly string[]): SimDevice[] {
  if (!Array.isArray(locations) || !locations.length) {
    throw new Error('the simulator needs at least one location');
  }
  const seen = new Set<string>();
  const devices: SimDevice[] = [];
  for (const given of locations) {
    if (typeof given !== 'string' || !given.trim()) {
      throw new Error(`a location must be a non-empty text, not ${JSON.stringify(given)}`);
    }
    const location = given.trim();
    const base = slug(location) || 'room';
    const ids = schema === 'iot-temp' ? [`${base}-in`, `${base}-out`] : [location];
    for (const id of ids) {
      if (seen.has(id)) throw new Error(`duplicate location "${location}" (device "${id}" exists already)`);
      seen.add(id);
      devices.push({ id, location, index: devices.length });
    }
  }
  return devices;
}

export class ReadingGenerator {
  readonly devices: readonly SimDevice[];
  private readonly schema: SimSchema;
  private readonly seed: number;
  private readonly start: number;
  private readonly stepMs: number;
  private readonly random: Random;
  private readonly biases: DeviceBias[];
  private last: number | undefined;
  private seq = 0;

  constructor(opts: GeneratorOptions) {
    if (!isSimSchema(opts.schema)) {
      throw new Error(`unknown simulator schema "${String(opts.schema)}" (known: ${SIM_SCHEMAS.join(', ')})`);
    }
    const stepMs = opts.stepMs ?? MIN_STEP;
    if (!Number.isFinite(stepMs) || stepMs < MIN_STEP) {
      throw new Error(
        `stepMs must be at least ${MIN_STEP} (timestamps have second resolution), not ${stepMs}`,
      );
    }
    const start = opts.start ?? Date.now();
    if (!Number.isFinite(start)) throw new Error(`start must be a time in ms, not ${String(opts.start)}`);
    this.schema = opts.schema;
    this.devices = devicesOf(opts.schema, opts.locations);
    this.seed = opts.seed;
    this.start = start;
    this.stepMs = stepMs;
    this.random = new Random(opts.seed);
    this.biases = this.devices.map(() => drawBias(this.random));
  }

  /**
   * One reading per device at the next event time: `at` when given (moved forward to
   * keep every device's times strictly increasing by ≥ 1000 ms), else previous + stepMs.
   */
  tick(at?: number): SimReading[] {
    if (at !== undefined && !Number.isFinite(at)) throw new Error(`tick needs a time in ms, not ${at}`);
    const time =
      this.last === undefined
        ? (at ?? this.start)
        : at === undefined
          ? this.last + this.stepMs
          : Math.max(at, this.last + MIN_STEP);
    this.last = time;
    const ts = Math.floor(time / 1000) * 1000;
    return this.devices.map((device) => this.read(device, ts));
  }

  private read(device: SimDevice, ts: number): SimReading {
    const bias = this.biases[device.index];
    if (this.schema === 'iot-temp') {
      const outside = device.id.endsWith('-out');
      const seq = ++this.seq;
      const tag = hash32(`${this.seed}/${device.id}/${ts}/${seq}`).toString(16).padStart(8, '0');
      const id = `__export__.temp_log_${seq}_${tag}`;
      const record: SimRecord = {
        id,
        'room_id/id': device.location,
        noted_date: notedDate(ts),
        temp: roomTemperature(this.random, ts, outside, bias),
        'out/in': outside ? 'Out' : 'In',
      };
      return { device, ts, record, key: id };
    }
    const timestamp = sqlTimestamp(ts);
    const record: SimRecord = {
      timestamp,
      location_id: device.location,
      ...environment(this.random, ts, bias),
    };
    return { device, ts, record, key: `${device.location}@${timestamp}` };
  }
}
