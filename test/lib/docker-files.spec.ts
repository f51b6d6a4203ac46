/**
 * Dockerfile, .dockerignore and docker-compose.yml, checked without a Docker engine: what the
 * build copies exists and reaches the builder, the image installs every node type the bundled
 * flow uses, and compose sets the variables the launcher's settings, the flow and the CLI read.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { parse } from 'yaml';

const repo = resolve(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(repo, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  name: string;
  files: string[];
  devDependencies: Record<string, string>;
  'node-red': { nodes: Record<string, string> };
};
const DASHBOARD = '@flowfuse/node-red-dashboard';
/** Where the official image installs Node-RED; modules installed there are loaded. */
const NODE_RED_DIR = '/usr/src/node-red';

// ---- Dockerfile ---------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}
interface Dockerfile {
  args: Record<string, string>;
  stages: Stage[];
}

function parseDockerfile(text: string): Dockerfile {
  const lines: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      current += line.replace(/\\\s*$/, ' ');
      continue;
    }
    if ((current + line).trim()) lines.push((current + line).trim());
    current = '';
  }
  const df: Dockerfile = { args: {}, stages: [] };
  for (const line of lines) {
    const [, word, args] = /^(\w+)\s+(.*)$/.exec(line)!;
    const keyword = word.toUpperCase();
    if (keyword === 'FROM') {
      const [image, as, name] = args.split(/\s+/);
      const resolved = image.replace(/\$\{(\w+)\}/g, (_, arg: string) => df.args[arg]);
      df.stages.push({
        image: resolved,
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        instructions: [],
      });
    } else if (keyword === 'ARG' && df.stages.length === 0) {
      const [name, value = ''] = args.split('=');
      df.args[name] = value;
    } else {
      df.stages.at(-1)!.instructions.push({ keyword, args });
    }
  }
  return df;
}

const DOCKERFILE = parseDockerfile(read('Dockerfile'));
const finalStage = (df: Dockerfile) => df.stages.at(-1)!;
const stageNamed = (df: Dockerfile, name: string) => df.stages.find((s) => s.name === name)!;
const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}

function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith('--'));
      const paths = words.filter((w) => !w.startsWith('--'));
      const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
    });
}

function workdir(stage: Stage): string {
  return stage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args ?? '/';
}

function envOf(stage: Stage): Record<string, string> {
  const pairs = stage.instructions
    .filter((i) => i.keyword === 'ENV')
    .flatMap((i) => i.args.split(/\s+/))
    .map((pair) => pair.split('='));
  return Object.fromEntries(pairs.map(([name, ...value]) => [name, value.join('=')]));
}

/** The packages of each `npm install` the stage runs, with the directory it runs in. */
function npmInstalls(stage: Stage): Array<{ cwd: string; packages: string[] }> {
  const installs: Array<{ cwd: string; packages: string[] }> = [];
  for (const run of runs(stage)) {
    let cwd = workdir(stage);
    for (const command of run.split('&&')) {
      const words = (command.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((w) =>
        w.replace(/^(["'])(.*)\1$/, '$2'),
      );
      if (words[0] === 'cd') cwd = words[1];
      if (words[0] === 'npm' && (words[1] === 'install' || words[1] === 'i')) {
        installs.push({ cwd, packages: words.slice(2).filter((w) => !w.startsWith('-')) });
      }
    }
  }
  return installs;
}

/** The module names the final stage installs into Node-RED's directory (a packed tarball by its name). */
function imageModules(df: Dockerfile): string[] {
  return npmInstalls(finalStage(df))
    .filter((install) => install.cwd === NODE_RED_DIR)
    .flatMap((install) => install.packages)
    .map((spec) => {
      if (spec.endsWith('.tgz')) return posix.basename(spec).startsWith(`${pkg.name}-`) ? pkg.name : spec;
      const at = spec.indexOf('@', 1);
      return at < 0 ? spec : spec.slice(0, at);
    });
}

// ---- .dockerignore ------------------------------------------------------------------------

/**
 * Docker's rules, for the patterns without character classes: a pattern is anchored at the
 * context root, `*` and `?` stay within a path segment, `**` spans segments, a pattern that
 * matches a folder excludes its contents, `!` re-includes, and the last matching pattern wins.
 */
function dockerignore(text: string): (path: string) => boolean {
  const patterns = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const glob = posix.normalize(line.replace(/^!/, '').replace(/^\/+/, '')).replace(/\/$/, '');
      if (/[[\]\\]/.test(glob)) throw new Error(`.dockerignore: ${line} is not supported by this check`);
      const source = glob
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) =>
          part === '**/'
            ? '(?:.*/)?'
            : part === '**'
              ? '.*'
              : part === '*'
                ? '[^/]*'
                : part === '?'
                  ? '[^/]'
                  : part.replace(/[.+^${}()|]/g, '\\$&'),
        )
        .join('');
      return { negate, re: new RegExp(`^${source}$`) };
    });
  return (path) => {
    const segments = posix.normalize(path).replace(/\/$/, '').split('/');
    const selfAndParents = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const { negate, re } of patterns) {
      if (selfAndParents.some((p) => re.test(p))) excluded = !negate;
    }
    return excluded;
  };
}

// ---- node types ---------------------------------------------------------------------------

type FlowNode = { id: string; type: string } & Record<string, unknown>;
const FLOW = JSON.parse(read('flows/medallion.json')) as FlowNode[];
/** Types Node-RED's runtime defines itself rather than in a node's .html. */
const BUILT_IN = ['tab', 'group', 'subflow', 'junction'];

const typesIn = (html: string) => [...html.matchAll(/registerType\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);

function htmlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? htmlFiles(join(dir, e.name)) : e.name.endsWith('.html') ? [join(dir, e.name)] : [],
  );
}

/** Types of an installed module, from the .html beside each of its node files. */
function moduleTypes(name: string): string[] {
  if (name === pkg.name) {
    // bin/copy-assets.ts copies nodes/<node>/<node>.html beside dist/nodes/<node>/<node>.js
    return Object.values(pkg['node-red'].nodes).flatMap((js) =>
      typesIn(read(js.replace(/^dist\//, '').replace(/\.js$/, '.html'))),
    );
  }
  const dir = join(repo, 'node_modules', name);
  assert.ok(existsSync(dir), `${name} is installed by the image but not in node_modules (a devDependency?)`);
  const nodes = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof pkg)['node-red'].nodes;
  return Object.values(nodes).flatMap((js) =>
    typesIn(readFileSync(join(dir, js.replace(/\.js$/, '.html')), 'utf8')),
  );
}

function imageTypes(df: Dockerfile): Set<string> {
  const core = htmlFiles(join(repo, 'node_modules', '@node-red', 'nodes', 'core')).flatMap((f) =>
    typesIn(readFileSync(f, 'utf8')),
  );
  return new Set([...BUILT_IN, ...core, ...imageModules(df).flatMap(moduleTypes)]);
}

/** The flow's node types that nothing in the image defines (a flow's own subflows define theirs). */
function missingTypes(flow: FlowNode[], available: Set<string>): string[] {
  const subflows = new Set(flow.filter((n) => n.type === 'subflow').map((n) => `subflow:${n.id}`));
  return [...new Set(flow.map((n) => n.type))].filter((t) => !available.has(t) && !subflows.has(t));
}

// ---- environment variables ----------------------------------------------------------------

const SETTINGS = read('bin/settings.ts');
const envReads = (source: string) =>
  new Set([...source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));
/** What the settings file sets when unset (`env.X ||= …`), so the flow's `${X}` always resolves. */
const settingsDefaults = new Set(
  [...SETTINGS.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\s*\|\|=/g)].map((m) => m[1]),
);

/**
 * Variables the flow reads: a property that is exactly `${VAR}` (Node-RED substitutes only
 * those), and typed inputs set to `env`, whose partner property names the variable (`urlType`
 * for `url`, and core nodes' `vt` for `v`, `tot` for `to`).
 */
function flowEnv(value: unknown, names = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    const ref = /^\$\{(\S+)\}$/.exec(value);
    if (ref) names.add(ref[1]);
  } else if (Array.isArray(value)) {
    for (const v of value) flowEnv(v, names);
  } else if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    for (const [key, v] of Object.entries(object)) {
      const partner = object[key.replace(/(Type|t)$/, '')];
      if (v === 'env' && /.(Type|t)$/.test(key) && typeof partner === 'string') names.add(partner);
      flowEnv(v, names);
    }
  }
  return names;
}

const FLOW_ENV = flowEnv(FLOW);
const KNOWN_ENV = new Set([...envReads(SETTINGS), ...envReads(read('bin/medallion.ts')), ...FLOW_ENV]);

// ---- compose files ------------------------------------------------------------------------

interface Service {
  image?: string;
  build?: string;
  environment?: Record<string, string | number>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}
/** Compose merges `<<: *anchor` keys (YAML 1.1 merge keys), which YAML 1.2 parsers leave as keys. */
const parseCompose = (text: string) => parse(text, { merge: true }) as Compose;
const COMPOSE = parseCompose(read('docker-compose.yml'));
const services = COMPOSE.services;
const SCALE_OUT_FILE = 'docker-compose.scale-out.yml';
const SCALE_OUT = parseCompose(read(SCALE_OUT_FILE));

const environment = (service: Service) =>
  Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v)]));

/** Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `$$`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}/g,
    (match, name: string, op: string | undefined, arg: string) => {
      if (match === '$$') return '$';
      const unset = op?.startsWith(':') ? !vars[name] : vars[name] === undefined;
      if (op?.endsWith('?') && unset) throw new Error(`${name}: ${arg}`);
      if (op?.endsWith('-') && unset) return arg;
      return vars[name] ?? '';
    },
  );
}

function mounts(service: Service): Array<{ source: string; target: string; named: boolean }> {
  return (service.volumes ?? []).map((v) => {
    const [source, target] = v.split(':');
    return { source, target, named: !/^[./~]/.test(source) };
  });
}

/** mosquitto.conf as option → values. */
function mosquittoConf(text: string): Map<string, string[]> {
  const options = new Map<string, string[]>();
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue;
    const [key, ...value] = line.split(/\s+/);
    options.set(key, [...(options.get(key) ?? []), value.join(' ')]);
  }
  return options;
}

const PASSWORDS = { POSTGRES_PASSWORD: 'pw-1', NODE_RED_CREDENTIAL_SECRET: 'secret-1' };
/** A service's environment as compose gives it, with the passwords set. */
const resolvedEnv = (service: Service) =>
  Object.fromEntries(Object.entries(environment(service)).map(([k, v]) => [k, interpolate(v, PASSWORDS)]));
const nodeRedEnv = () => resolvedEnv(services['node-red']);

/** The services built from this repository's Dockerfile: the Node-RED instances. */
const nodeRedServices = (compose: Compose) =>
  Object.entries(compose.services).filter(([, service]) => service.build === '.');

/** The mosquitto service's configuration file, as mounted. */
function mosquittoConfOf(compose: Compose): { source: string; options: Map<string, string[]> } {
  const conf = mounts(compose.services.mosquitto).find(
    (m) => m.target === '/mosquitto/config/mosquitto.conf',
  );
  assert.ok(conf && !conf.named && existsSync(join(repo, conf.source)), 'mosquitto.conf is a bind mount');
  return { source: conf.source, options: mosquittoConf(read(conf.source)) };
}

// What every compose file must get right, checked the same way for each (they throw).

function checkDependencies(compose: Compose): void {
  for (const [name, service] of Object.entries(compose.services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      assert.ok(compose.services[dependency], `${name} depends on ${dependency}, which is not a service`);
      if (condition === 'service_healthy') assert.ok(compose.services[dependency].healthcheck, dependency);
    }
  }
  for (const [name, service] of nodeRedServices(compose)) {
    assert.deepEqual(Object.keys(service.depends_on ?? {}).sort(), ['mosquitto', 'postgres'], name);
  }
  const postgres = environment(compose.services.postgres);
  assert.match(
    compose.services.postgres.healthcheck!.test.join(' '),
    new RegExp(`pg_isready -U ${postgres.POSTGRES_USER} -d ${postgres.POSTGRES_DB}`),
  );
}

function checkMounts(compose: Compose): void {
  for (const service of Object.values(compose.services)) {
    for (const { source, named } of mounts(service)) {
      if (named) assert.ok(compose.volumes && source in compose.volumes, `volume ${source} is declared`);
      else assert.ok(existsSync(join(repo, source)), `bind source ${source} exists`);
    }
  }
}

/** Only variables that the settings, the flow or the CLI read, and every one the flow needs. */
function checkNodeRedEnv(name: string, service: Service): void {
  const env = environment(service);
  for (const variable of Object.keys(env)) {
    assert.ok(KNOWN_ENV.has(variable), `${name}: ${variable} is read by nothing`);
  }
  const set = new Set([...Object.keys(env), ...Object.keys(envOf(finalStage(DOCKERFILE)))]);
  const needed = [...FLOW_ENV].filter((variable) => !settingsDefaults.has(variable));
  assert.ok(needed.includes('DATABASE_URL'));
  for (const variable of needed) {
    assert.ok(set.has(variable), `${name}: the flow reads \${${variable}}, which nothing sets`);
  }
}

function checkSecrets(compose: Compose, service: Service): void {
  const env = environment(service);
  for (const name of ['NODE_RED_CREDENTIAL_SECRET', 'DATABASE_URL']) {
    assert.throws(() => interpolate(env[name], {}), /NODE_RED_CREDENTIAL_SECRET|POSTGRES_PASSWORD/);
  }
  assert.throws(
    () => interpolate(environment(compose.services.postgres).POSTGRES_PASSWORD, {}),
    /POSTGRES_PASSWORD/,
  );
  assert.equal(interpolate(env.NODE_RED_ADMIN_PASSWORD_HASH, PASSWORDS), '');
}

function checkDatabaseUrl(compose: Compose, service: Service): void {
  const url = new URL(resolvedEnv(service).DATABASE_URL);
  const postgres = environment(compose.services.postgres);
  assert.ok(compose.services[url.hostname], `${url.hostname} is a service`);
  assert.equal(compose.services[url.hostname].image, 'postgres:15');
  assert.equal(url.port, '5432');
  assert.equal(url.username, postgres.POSTGRES_USER);
  assert.equal(url.pathname, `/${postgres.POSTGRES_DB}`);
  assert.equal(url.password, interpolate(postgres.POSTGRES_PASSWORD, PASSWORDS));
}

function checkMqttUrl(compose: Compose, service: Service): void {
  const url = new URL(resolvedEnv(service).MQTT_URL);
  assert.equal(url.protocol, 'mqtt:');
  assert.equal(compose.services[url.hostname]?.image, 'eclipse-mosquitto:2');
  assert.deepEqual(mosquittoConfOf(compose).options.get('listener'), [url.port]);
}

/** A bind mount where MEDALLION_LANDING points, /data a named volume, quarantine under /data. */
function checkLanding(name: string, service: Service): { source: string; data: string } {
  const env = { ...envOf(finalStage(DOCKERFILE)), ...resolvedEnv(service) };
  const landing = mounts(service).find((m) => m.target === env.MEDALLION_LANDING);
  assert.ok(landing && !landing.named, `${name}: a bind mount on the landing folder`);
  const data = mounts(service).find((m) => m.named && m.target === '/data');
  assert.ok(data, `${name}: a named volume on /data`);
  assert.match(env.MEDALLION_QUARANTINE, /^\/data\//);
  return { source: landing.source, data: data.source };
}

/** Persistence on a named volume, queues and sessions kept as the README recommends. */
function checkBroker(compose: Compose, options = mosquittoConfOf(compose).options): void {
  const option = (key: string) => options.get(key)?.at(-1);
  assert.equal(option('persistence'), 'true', 'persistence true');
  const location = option('persistence_location')!.replace(/\/$/, '');
  assert.ok(
    mounts(compose.services.mosquitto).some((m) => m.named && m.target === location),
    `${location} is a volume`,
  );
  const queued = Number(option('max_queued_messages'));
  assert.ok(queued === 0 || queued > 1000, `max_queued_messages ${queued}`);
  assert.match(option('persistent_client_expiration') ?? '', /^\d+[hdwmy]$/);
  assert.ok(
    [undefined, '20'].includes(option('max_inflight_messages')),
    "max_inflight_messages: Mosquitto's default",
  );
  assert.equal(option('allow_anonymous'), 'true');
}

/** A duration of mosquitto.conf (`7d`) in hours. */
function confHours(duration: string | undefined): number {
  const m = /^(\d+)([hdwmy])$/.exec(duration ?? '');
  return m ? Number(m[1]) * { h: 1, d: 24, w: 168, m: 720, y: 8760 }[m[2] as 'h'] : 0;
}

/**
 * What scaling out needs on top: every Node-RED instance with its own stable name (and so
 * MQTT client id) and data volume, written out (no replicas), in one share group, with the
 * same database, broker and landing folder, each editor on its own loopback port; and a
 * broker that keeps a killed member's share (queue limit ≥ 1 000 000, sessions kept ≥ 1 day).
 */
function checkScaleOut(compose: Compose, brokerOptions = mosquittoConfOf(compose).options): void {
  assert.ok(!('<<' in compose.services), 'merge keys are resolved');
  const instances = nodeRedServices(compose);
  assert.ok(instances.length >= 2, `${instances.length} Node-RED services`);
  const envs = instances.map(([name, service]) => {
    assert.ok(!('<<' in (service.environment ?? {})), `${name}: merge keys are resolved`);
    assert.equal(service.deploy?.replicas, undefined, `${name}: replicas cannot have a name each`);
    checkNodeRedEnv(name, service);
    return resolvedEnv(service);
  });
  const all = (key: string) => envs.map((env) => env[key]);
  const distinct = (values: unknown[]) => new Set(values).size === values.length;
  const same = (values: unknown[]) => new Set(values).size === 1;
  assert.ok(
    all('MEDALLION_INSTANCE').every(Boolean) && distinct(all('MEDALLION_INSTANCE')),
    `MEDALLION_INSTANCE set and distinct: ${all('MEDALLION_INSTANCE').join(', ')}`,
  );
  const clientIds = envs.map((env) => env.MQTT_CLIENT_ID || `medallion-${env.MEDALLION_INSTANCE}`);
  assert.ok(distinct(clientIds), `MQTT client ids distinct: ${clientIds.join(', ')}`);
  const group = all('MQTT_SHARE_GROUP')[0];
  assert.ok(
    group && same(all('MQTT_SHARE_GROUP')),
    `one MQTT_SHARE_GROUP: ${all('MQTT_SHARE_GROUP').join(', ')}`,
  );
  for (const topic of all('MQTT_TOPIC')) {
    if (topic) assert.ok(topic.startsWith(`$share/${group}/`), `MQTT_TOPIC ${topic} is in the share group`);
  }
  for (const key of ['DATABASE_URL', 'MQTT_URL', 'MEDALLION_LANDING']) {
    assert.ok(same(all(key)), `one ${key}: ${all(key).join(', ')}`);
  }
  const landing = instances.map(([name, service]) => checkLanding(name, service));
  assert.ok(
    same(landing.map((l) => l.source)),
    `one landing folder: ${landing.map((l) => l.source).join(', ')}`,
  );
  assert.ok(
    distinct(landing.map((l) => l.data)),
    `a data volume each: ${landing.map((l) => l.data).join(', ')}`,
  );
  const ports = instances.flatMap(([, service]) => service.ports ?? []);
  assert.ok(
    ports.every((p) => p.startsWith('127.0.0.1:')) && distinct(ports.map((p) => p.split(':')[1])),
    `editors on distinct loopback ports: ${ports.join(', ')}`,
  );
  const option = (key: string) => brokerOptions.get(key)?.at(-1);
  const queued = Number(option('max_queued_messages'));
  assert.ok(queued === 0 || queued >= 1_000_000, `max_queued_messages ${option('max_queued_messages')}`);
  assert.equal(option('persistence'), 'true', 'persistence true');
  assert.ok(confHours(option('persistent_client_expiration')) >= 24, 'persistent_client_expiration ≥ 1d');
}

describe('Docker files', () => {
  describe('Dockerfile', () => {
    it('builds FROM pinned tags, the final stage FROM the official nodered/node-red 4.1 image by default', () => {
      assert.match(DOCKERFILE.args.NODE_RED_IMAGE, /^nodered\/node-red:4\.1\.\d+-\d+$/);
      assert.equal(finalStage(DOCKERFILE).image, DOCKERFILE.args.NODE_RED_IMAGE);
      for (const { image } of DOCKERFILE.stages) {
        const stageName = DOCKERFILE.stages.some((s) => s.name === image);
        assert.ok(stageName || /^[\w./-]+:[\w.-]+$/.test(image), `${image} has a tag`);
        assert.doesNotMatch(image, /:latest/);
      }
    });

    it('copies sources that exist and that .dockerignore lets through, every tracked file of them', () => {
      const ignored = dockerignore(read('.dockerignore'));
      const sources = DOCKERFILE.stages.flatMap(copies).filter((c) => !c.from);
      assert.ok(sources.length > 0);
      for (const source of sources.flatMap((c) => c.sources)) {
        assert.ok(existsSync(join(repo, source)), `COPY ${source}: not in the repository`);
        const tracked = execFileSync('git', ['ls-files', '-z', '--', source], {
          cwd: repo,
          encoding: 'utf8',
        });
        const files = tracked.split('\0').filter(Boolean);
        assert.ok(files.length > 0, `COPY ${source}: not tracked by git`);
        for (const file of files) assert.ok(!ignored(file), `COPY ${source}: .dockerignore excludes ${file}`);
      }
    });

    it('copies into the build stage what npm run build and npm pack need', () => {
      const build = stageNamed(DOCKERFILE, 'build');
      const copied = copies(build).flatMap((c) => c.sources.map((s) => s.replace(/\/$/, '')));
      const tsconfig = JSON.parse(read('tsconfig.build.json')) as { extends: string; include: string[] };
      const assetDirs = [...read('bin/copy-assets.ts').matchAll(/join\(root, '([\w-]+)'\)/g)].map(
        (m) => m[1],
      );
      const needed = [
        'package.json',
        'package-lock.json',
        'tsconfig.build.json',
        posix.normalize(tsconfig.extends),
        ...tsconfig.include,
        ...assetDirs.filter((d) => d !== 'dist'),
        ...pkg.files.map((f) => f.replace(/\/$/, '')).filter((f) => f !== 'dist'),
      ];
      assert.ok(needed.includes('resources') && needed.includes('icons'));
      for (const path of needed) {
        assert.ok(
          copied.some((c) => path === c || path.startsWith(`${c}/`)),
          `the build stage does not copy ${path}`,
        );
      }
    });

    it('copies from the build stage only what it produces: compiled files and folders it creates', () => {
      const tsconfig = JSON.parse(read('tsconfig.build.json')) as {
        compilerOptions: { outDir: string };
        include: string[];
        exclude: string[];
      };
      const fromBuild = copies(finalStage(DOCKERFILE)).filter((c) => c.from);
      assert.ok(fromBuild.length > 0);
      for (const { from, sources } of fromBuild) {
        const stage = stageNamed(DOCKERFILE, from!);
        assert.ok(stage, `--from=${from} is a stage`);
        for (const source of sources) {
          const inWorkdir = posix.relative(workdir(stage), source);
          if (!inWorkdir.startsWith('..')) {
            const ts = inWorkdir
              .replace(new RegExp(`^${tsconfig.compilerOptions.outDir}/`), '')
              .replace(/\.js$/, '.ts');
            assert.ok(inWorkdir.startsWith(`${tsconfig.compilerOptions.outDir}/`), `${source} is compiled`);
            assert.ok(existsSync(join(repo, ts)), `${source} is compiled from ${ts}`);
            assert.ok(
              tsconfig.include.some((dir) => ts.startsWith(`${dir}/`)) && !tsconfig.exclude.includes(ts),
            );
          } else {
            const dir = source.replace(/\/$/, '');
            assert.ok(
              runs(stage).some((r) => r.includes(`mkdir ${dir} `)),
              `the ${from} stage creates ${dir}`,
            );
          }
        }
      }
    });

    it('installs the tarball the build stage packs and Dashboard 2.0 into /usr/src/node-red', () => {
      const installs = npmInstalls(finalStage(DOCKERFILE)).filter((i) => i.cwd === NODE_RED_DIR);
      assert.equal(installs.length, 1);
      const tgz = installs[0].packages.find((p) => p.endsWith('.tgz'));
      assert.equal(posix.basename(tgz ?? ''), `${pkg.name}-*.tgz`);
      const pack = copies(finalStage(DOCKERFILE)).find((c) => c.from && tgz!.startsWith(c.dest));
      assert.ok(pack, `${tgz} is copied from the build stage`);
      const packed = `--pack-destination ${pack.sources[0].replace(/\/$/, '')} `;
      assert.ok(runs(stageNamed(DOCKERFILE, pack.from!)).some((r) => r.includes(packed)));
      assert.deepEqual(imageModules(DOCKERFILE).sort(), [DASHBOARD, pkg.name]);
    });

    it("installs the dashboard at package.json's devDependencies range, written by the build stage", () => {
      const spec = npmInstalls(finalStage(DOCKERFILE))
        .flatMap((i) => i.packages)
        .find((p) => p.startsWith(`${DASHBOARD}@`));
      const file = /^@flowfuse\/node-red-dashboard@\$\(cat (\S+)\)$/.exec(spec ?? '')?.[1];
      assert.ok(file, `the version is read from a file, not typed: ${spec}`);
      const pack = copies(finalStage(DOCKERFILE)).find((c) => file.startsWith(c.dest))!;
      const written = `${pack.sources[0]}${file.slice(pack.dest.length)}`;
      const command = runs(stageNamed(DOCKERFILE, pack.from!))
        .flatMap((r) => [...r.matchAll(/node -p "([^"]+)" > (\S+)/g)])
        .find((m) => m[2] === written);
      assert.ok(command, `the build stage writes ${written}`);
      const version = execFileSync('node', ['-p', command[1]], { cwd: repo, encoding: 'utf8' }).trim();
      assert.equal(version, pkg.devDependencies[DASHBOARD]);
    });

    it('sets only environment variables that the settings, the flow or the CLI read', () => {
      const env = Object.keys(envOf(finalStage(DOCKERFILE)));
      assert.ok(env.includes('HOST') && env.includes('MEDALLION_LANDING'));
      for (const name of env) assert.ok(KNOWN_ENV.has(name), `ENV ${name} is read by nothing`);
    });
  });

  describe('.dockerignore matcher', () => {
    it("follows Docker's rules: anchored, folders exclude their contents, ** spans folders, the last match wins", () => {
      const ignored = dockerignore('dist\n/coverage/\n**/*.log\n*.tgz\ntest\n!test/keep.ts\n# dist-x\n');
      assert.deepEqual(
        [
          'dist',
          'dist/bin/settings.js',
          'lib/dist/x.ts',
          'coverage/lcov.info',
          'a.log',
          'lib/deep/b.log',
          'x.tgz',
          'lib/x.tgz',
          'test/lib/a.spec.ts',
          'test/keep.ts',
          'distant/a.ts',
        ].filter(ignored),
        [
          'dist',
          'dist/bin/settings.js',
          'coverage/lcov.info',
          'a.log',
          'lib/deep/b.log',
          'x.tgz',
          'test/lib/a.spec.ts',
        ],
      );
      assert.throws(() => dockerignore('[ab].txt'), /not supported/);
    });
  });

  describe('node types', () => {
    it('the image installs every node type the bundled flow uses', () => {
      assert.deepEqual(missingTypes(FLOW, imageTypes(DOCKERFILE)), []);
    });

    it('a type nobody installs is missing, and so are the dashboard types when the image does not install it', () => {
      const types = imageTypes(DOCKERFILE);
      const flow = ['tab', 'mqtt in', 'medallion-pg-write', 'ui-nonexistent', 'ui-chart'].map((type, i) => ({
        id: `n${i}`,
        type,
      }));
      assert.deepEqual(missingTypes(flow, types), ['ui-nonexistent']);
      const withoutDashboard = parseDockerfile(
        read('Dockerfile').replace(/"@flowfuse\/node-red-dashboard@[^"]*"/, ''),
      );
      assert.deepEqual(missingTypes(flow, imageTypes(withoutDashboard)), ['ui-nonexistent', 'ui-chart']);
      const subflow = [
        { id: 'sf', type: 'subflow' },
        { id: 'n3', type: 'subflow:sf' },
        { id: 'n4', type: 'subflow:x' },
      ];
      assert.deepEqual(missingTypes(subflow, types), ['subflow:x']);
    });
  });

  describe('environment variables', () => {
    it('the flow reads whole ${VAR} properties and env typed inputs, not ${…} inside text or code', () => {
      const flow = [
        { id: 'a', type: 'x', url: '${A}', text: 'a ${B} b', func: 'return `${c}`;' },
        {
          id: 'b',
          type: 'y',
          url: 'C',
          urlType: 'env',
          rules: [
            { to: 'D', tot: 'env' },
            { v: 'E', vt: 'str' },
          ],
        },
      ];
      assert.deepEqual([...flowEnv(flow)].sort(), ['A', 'C', 'D']);
      assert.ok(['DATABASE_URL', 'MEDALLION_LANDING', 'MQTT_URL'].every((name) => FLOW_ENV.has(name)));
    });

    it("collects what the settings and the CLI read, and the flow's references the settings default", () => {
      const names = [
        'HOST',
        'NODE_RED_CREDENTIAL_SECRET',
        'NODE_RED_ADMIN_PASSWORD_HASH',
        'MEDALLION_USER_DIR',
      ];
      assert.ok([...names, 'MEDALLION_INSTANCE', 'MEDALLION_HOME'].every((name) => KNOWN_ENV.has(name)));
      assert.ok(['MQTT_URL', 'MQTT_CLIENT_ID', 'MQTT_TOPIC'].every((name) => settingsDefaults.has(name)));
      assert.ok(!settingsDefaults.has('DATABASE_URL'));
    });
  });

  describe('docker-compose.yml', () => {
    it('is a Compose Specification file: no version key, pinned images, node-red built from the Dockerfile', () => {
      assert.ok(!('version' in COMPOSE));
      assert.equal(services.postgres.image, 'postgres:15');
      assert.equal(services.mosquitto.image, 'eclipse-mosquitto:2');
      assert.equal(services['node-red'].build, '.');
    });

    it('depends only on services that exist, on healthy ones only when they have a healthcheck', () => {
      checkDependencies(COMPOSE);
    });

    it('declares every named volume and mounts only bind sources that exist', () => {
      checkMounts(COMPOSE);
    });

    it('gives node-red only variables that the settings, the flow or the CLI read, and all the flow needs', () => {
      checkNodeRedEnv('node-red', services['node-red']);
    });

    it('requires the credential secret and the database password', () => {
      checkSecrets(COMPOSE, services['node-red']);
    });

    it('points DATABASE_URL at the postgres service with its user, database and password', () => {
      checkDatabaseUrl(COMPOSE, services['node-red']);
    });

    it("points MQTT_URL at the mosquitto service's listener", () => {
      checkMqttUrl(COMPOSE, services['node-red']);
    });

    it('mounts a landing folder where MEDALLION_LANDING points, quarantine under /data', () => {
      checkLanding('node-red', services['node-red']);
    });

    it("configures Mosquitto with the README's recommended settings, persisted on a named volume", () => {
      checkBroker(COMPOSE);
      const { options } = mosquittoConfOf(COMPOSE);
      const option = (key: string) => options.get(key)?.at(-1);
      const readme = read('README.md');
      for (const key of ['max_queued_messages', 'persistent_client_expiration']) {
        assert.ok(
          readme.includes(`\`${key}\``) && readme.includes(option(key)!),
          `${key} ${option(key)} as the README`,
        );
      }
    });

    it('gives the one instance a stable name (its MQTT client id) and no share group', () => {
      const env = nodeRedEnv();
      assert.ok(env.MEDALLION_INSTANCE);
      assert.ok(!env.MQTT_SHARE_GROUP && !env.MQTT_CLIENT_ID);
    });
  });

  describe(SCALE_OUT_FILE, () => {
    const text = read(SCALE_OUT_FILE);

    it('resolves: the Node-RED services merged from the x-node-red extension, the same images as docker-compose.yml', () => {
      assert.ok(!('version' in SCALE_OUT));
      assert.match(text, /^x-node-red: &node-red$/m);
      assert.ok(!('x-node-red' in SCALE_OUT.services));
      assert.deepEqual(
        nodeRedServices(SCALE_OUT).map(([name]) => name),
        ['node-red-1', 'node-red-2'],
      );
      for (const [, service] of nodeRedServices(SCALE_OUT)) {
        assert.equal(service.build, '.');
        assert.ok(
          environment(service).DATABASE_URL && environment(service).MQTT_URL,
          'the shared environment',
        );
        assert.ok(service.depends_on?.postgres, 'the shared depends_on');
      }
      for (const name of ['postgres', 'mosquitto']) {
        assert.deepEqual(SCALE_OUT.services[name], services[name], `${name} as in docker-compose.yml`);
      }
    });

    it('depends only on services that exist, declares its volumes, mounts only bind sources that exist', () => {
      checkDependencies(SCALE_OUT);
      checkMounts(SCALE_OUT);
    });

    it('gives each instance only variables that are read, the secrets required, the URLs of its services', () => {
      for (const [name, service] of nodeRedServices(SCALE_OUT)) {
        checkNodeRedEnv(name, service);
        checkSecrets(SCALE_OUT, service);
        checkDatabaseUrl(SCALE_OUT, service);
        checkMqttUrl(SCALE_OUT, service);
        const env = resolvedEnv(service);
        const single = nodeRedEnv();
        for (const key of ['DATABASE_URL', 'MQTT_URL', 'MEDALLION_LANDING', 'MEDALLION_QUARANTINE', 'HOST']) {
          assert.equal(env[key], single[key], `${name}: ${key} as in docker-compose.yml`);
        }
      }
    });

    it('has each instance named, in one share group, on one landing folder, with a data volume and a port each', () => {
      checkScaleOut(SCALE_OUT);
      const ports = nodeRedServices(SCALE_OUT).map(([, service]) => service.ports);
      assert.deepEqual(ports, [['127.0.0.1:1880:1880'], ['127.0.0.1:1881:1880']]);
    });

    it('mounts a Mosquitto configuration that keeps a killed member’s share: persistence, queue ≥ 1 000 000, sessions kept', () => {
      checkBroker(SCALE_OUT);
      checkScaleOut(SCALE_OUT);
    });

    it('fails a file that would lose or double something', () => {
      const broken = (from: string | RegExp, to: string) => {
        const changed = text.replace(from, to);
        assert.notEqual(changed, text, `${String(from)} is in the file`);
        return parseCompose(changed);
      };
      const cases: Array<[string | RegExp, string, RegExp]> = [
        [
          'MEDALLION_INSTANCE: node-red-2',
          'MEDALLION_INSTANCE: node-red-1',
          /MEDALLION_INSTANCE set and distinct/,
        ],
        [/\n\s*MEDALLION_INSTANCE: node-red-2/, '', /MEDALLION_INSTANCE set and distinct/],
        [
          'MEDALLION_INSTANCE: node-red-2',
          'MEDALLION_INSTANCE: node-red-2\n      MQTT_CLIENT_ID: medallion-node-red-1',
          /client ids distinct/,
        ],
        [
          'MEDALLION_INSTANCE: node-red-2',
          'MEDALLION_INSTANCE: node-red-2\n      MQTT_SHARE_GROUP: other',
          /one MQTT_SHARE_GROUP/,
        ],
        [/\n\s*MQTT_SHARE_GROUP: medallion/, '', /one MQTT_SHARE_GROUP/],
        [
          'MEDALLION_INSTANCE: node-red-2',
          'MEDALLION_INSTANCE: node-red-2\n      MQTT_TOPIC: sensors/+/readings',
          /is in the share group/,
        ],
        [
          'MEDALLION_INSTANCE: node-red-2',
          'MEDALLION_INSTANCE: node-red-2\n      MEDALLION_SHARD: x',
          /MEDALLION_SHARD is read by nothing/,
        ],
        [
          '- node-red-2-data:/data\n      - ./docker/landing',
          '- node-red-1-data:/data\n      - ./docker/landing',
          /a data volume each/,
        ],
        [
          '- node-red-2-data:/data\n      - ./docker/landing:',
          '- node-red-2-data:/data\n      - ./docker:',
          /one landing folder/,
        ],
        ["'127.0.0.1:1881:1880'", "'127.0.0.1:1880:1880'", /distinct loopback ports/],
        [
          '  node-red-2:\n    <<: *node-red',
          '  node-red-2:\n    <<: *node-red\n    deploy:\n      replicas: 2',
          /replicas/,
        ],
      ];
      for (const [from, to, error] of cases) {
        assert.throws(() => checkScaleOut(broken(from, to)), error, `${String(from)} → ${to}`);
      }
      const conf = read(mosquittoConfOf(SCALE_OUT).source);
      const confCases: Array<[string | RegExp, string, RegExp]> = [
        ['max_queued_messages 1000000', 'max_queued_messages 1000', /max_queued_messages 1000$/],
        ['max_queued_messages 1000000', 'max_queued_messages 999999', /max_queued_messages/],
        [/^max_queued_messages .*$/m, '', /max_queued_messages/],
        ['persistence true', 'persistence false', /persistence true/],
        [
          'persistent_client_expiration 7d',
          'persistent_client_expiration 1h',
          /persistent_client_expiration/,
        ],
      ];
      for (const [from, to, error] of confCases) {
        const changed = conf.replace(from, to);
        assert.notEqual(changed, conf, `${String(from)} is in the conf`);
        assert.throws(
          () => checkScaleOut(SCALE_OUT, mosquittoConf(changed)),
          error,
          `${String(from)} → ${to}`,
        );
      }
    });
  });
});
