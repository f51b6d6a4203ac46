/**
 * The editor side of every node, checked without a browser: the definition each .html
 * registers (run in a sandbox with a stub RED), its form, its strings and its help.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { parseColumnList, resolveTable, assertIdentifier } from '../../lib/pg/identifiers';

const ROOT = join(__dirname, '..', '..');
const PACK = 'node-red-iot-medallion';
/** The pack's colour family: one hue, the palette tells the nodes apart by icon. */
const COLOURS = ['#D7B56D'];
const NODES = readdirSync(join(ROOT, 'nodes')).sort();
const ICONS = readdirSync(join(ROOT, 'icons')).filter((f) => f.endsWith('.svg'));
/** The validators the forms share, and the tag a node's .html loads them with (before its script). */
const SHARED = join(ROOT, 'resources', 'medallion-editor.js');
const SHARED_TAG = `<script src="resources/${PACK}/medallion-editor.js"></script>`;

type Strings = Record<string, unknown>;
type Fn = (this: unknown, ...args: unknown[]) => unknown;

interface Property {
  value: unknown;
  required?: boolean;
  type?: string;
  validate?: Fn;
}

interface Definition {
  category?: string;
  color?: string;
  defaults: Record<string, Property>;
  credentials?: Record<string, unknown>;
  inputs?: number;
  outputs?: number;
  inputLabels?: Fn | string;
  outputLabels?: Fn | string[];
  icon?: string;
  label?: Fn;
  paletteLabel?: string;
  oneditprepare?: Fn;
}

const strings = new Map<string, Strings>(
  NODES.map((n) => [
    n,
    JSON.parse(readFileSync(join(ROOT, 'nodes', n, 'locales', 'en-US', `${n}.json`), 'utf8')),
  ]),
);

/** Whether `key` (a dotted path, or a prefix ending in "." that names a group) is in a node's strings. */
function hasKey(node: string, key: string): boolean {
  let at: unknown = strings.get(node);
  for (const part of key.replace(/\.$/, '').split('.')) {
    if (!at || typeof at !== 'object' || !(part in at)) return false;
    at = (at as Strings)[part];
  }
  return key.endsWith('.') ? typeof at === 'object' : typeof at === 'string';
}

/** A translated string as the stub RED returns it, so a test can tell it came from the locales. */
const translated = (node: string, key: string) => `⟦${node}:${key}⟧`;
const TRANSLATED = /^⟦([\w-]+):([\w.-]+)⟧$/;

/** `RED._` / `this._`: resolves the key like Node-RED does (own namespace, or `pack/node:key`). */
function translator(own: string, missing: string[]) {
  return (key: string) => {
    const m = new RegExp(`^${PACK}/([\\w-]+):(.+)$`).exec(key);
    const [node, path] = m ? [m[1], m[2]] : [own, key];
    if (!hasKey(node, path)) missing.push(`${node}:${path}`);
    return translated(node, path);
  };
}

function scriptOf(html: string, attribute: RegExp): string {
  const m = new RegExp(
    `<script type="text/(?:javascript|html)"${attribute.source}>([\\s\\S]*?)</script>`,
  ).exec(html);
  assert.ok(m, `no <script ${attribute.source}>`);
  return m[1];
}

/** A sandbox for editor scripts, its own global as `window` (as in the browser). */
function sandbox(globals: Record<string, unknown>) {
  const context = createContext({ ...globals });
  context.window = context;
  return context;
}

/** Runs resources/medallion-editor.js in the sandbox, as the editor does for a node's script tag. */
function loadShared(context: object) {
  runInContext(readFileSync(SHARED, 'utf8'), context, { filename: SHARED });
}

/**
 * Runs the editor script of a node's .html with a stub RED (after the shared validators when
 * the .html loads them) and returns what it registered.
 */
function register(node: string, html: string, missing: string[]): { type: string; def: Definition } {
  const registered: Array<{ type: string; def: Definition }> = [];
  const $ = () => ({ length: 0, val: () => undefined });
  const RED = {
    _: translator(node, missing),
    nodes: { registerType: (type: string, def: Definition) => registered.push({ type, def }) },
    // like Node-RED's, they answer false, not a message: a node using them is told so
    validators: {
      number: () => (v: unknown) => !Number.isNaN(Number(v)),
      regex: (re: RegExp) => (v: string) => re.test(v),
    },
  };
  const context = sandbox({ RED, $, jQuery: $ });
  if (html.includes(SHARED_TAG)) loadShared(context);
  runInContext(scriptOf(html, / *(?=>)/), context);
  assert.equal(registered.length, 1, 'one registerType call');
  return registered[0];
}

/** The node as the editor holds it: the default values, with `_` and `name` set as asked. */
function instance(node: string, def: Definition, missing: string[], extra: Record<string, unknown> = {}) {
  const values = Object.fromEntries(Object.entries(def.defaults).map(([k, p]) => [k, p.value]));
  return { ...values, _: translator(node, missing), ...extra };
}

/** Opening and closing tags balance (a tiny XML well-formedness check). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const [, closing, name, selfClosing] of svg
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<\?[\s\S]*?\?>/g, '')
    .matchAll(/<(\/?)([A-Za-z][\w:-]*)(?:\s[^>]*?)?(\/?)>/g)) {
    if (selfClosing) continue;
    if (!closing) stack.push(name);
    else if (stack.pop() !== name) return false;
  }
  return stack.length === 0;
}

/**
 * Fields naming SQL identifiers, with the runtime function that checks them: the editor
 * must accept exactly what the runtime accepts (empty means "the default" where allowed).
 */
const IDENTIFIER_FIELDS: Record<string, Record<string, (v: string) => unknown>> = {
  'pg-write': {
    table: (v) => resolveTable(v),
    keyColumns: (v) => parseColumnList(v),
    columns: (v) => parseColumnList(v),
  },
  'pg-config': Object.fromEntries(
    ['schemaMedallion', 'schemaBronze', 'schemaSilver', 'schemaGold'].map((f) => [
      f,
      (v: string) => v === '' || assertIdentifier(v),
    ]),
  ),
  'watch-folder': { bronzeTable: (v) => v.trim() === '' || resolveTable(v) },
};
const IDENTIFIER_PROBES = [
  'records',
  'bronze.records',
  'plant.readings',
  ' readings ',
  'Room_1',
  '_x',
  'a'.repeat(63),
  'a'.repeat(64),
  `s.${'a'.repeat(64)}`,
  '',
  ' ',
  '1abc',
  'a b',
  'a, b',
  'a,b,c',
  'a"b',
  'a;drop table x',
  'x--',
  'ä',
  'a.b.c',
  '.x',
  'x.',
  'a$b',
  "o'k",
  'bronze."x"',
];
const accepts = (check: (v: string) => unknown, v: string) => {
  try {
    check(v);
    return true;
  } catch {
    return false;
  }
};

describe('editor files of every node (static)', () => {
  it('every node directory is in package.json', () => {
    const listed = Object.keys(
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))['node-red'].nodes,
    );
    assert.deepEqual([...listed].sort(), NODES);
  });

  for (const icon of ICONS) {
    it(`icons/${icon} is an SVG in the pack's style (40 × 60, white on the node colour)`, () => {
      const svg = readFileSync(join(ROOT, 'icons', icon), 'utf8').trim();
      assert.match(
        svg,
        /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="40" height="60" viewBox="0 0 40 60">/,
      );
      assert.ok(svg.endsWith('</svg>'), 'ends with </svg>');
      assert.ok(balanced(svg), 'tags balance');
      for (const [, colour] of svg.matchAll(/(?:fill|stroke)="([^"]+)"/g)) {
        assert.ok(['#fff', '#ffffff', 'white', 'none'].includes(colour.toLowerCase()), `colour ${colour}`);
      }
    });
  }

  describe('resources/medallion-editor.js', () => {
    const KEY = `${PACK}/pg-write:pg-write.errors.range`;
    const context = sandbox({ RED: { _: (key: string) => `⟦${key}⟧` }, $: () => ({ val: () => undefined }) });
    loadShared(context);
    const shared = context.MedallionEditor as Record<string, (...args: unknown[]) => Fn>;

    it('is loaded once: a second copy keeps the first', () => {
      loadShared(context);
      assert.equal(context.MedallionEditor, shared);
    });

    it('makes two-argument validators that refuse with the message of the key they are given', () => {
      const made: Record<string, Fn> = {
        matches: shared.matches(/^x$/, KEY),
        orBlank: shared.orBlank(shared.table(KEY)),
        number: shared.number(0, 1, KEY),
        wholeNumber: shared.wholeNumber(0, 1, KEY),
        positive: shared.positive(1, KEY),
        typed: shared.typed('folder', KEY),
        envName: shared.envName(KEY),
        identifier: shared.identifier(KEY),
        table: shared.table(KEY),
        columnList: shared.columnList(KEY),
        nameList: shared.nameList(KEY),
        list: shared.list(KEY),
        layer: shared.layer(KEY),
        layerList: shared.layerList(KEY),
      };
      assert.deepEqual(Object.keys(made).sort(), Object.keys(shared).sort(), 'every factory is checked');
      for (const [name, validate] of Object.entries(made)) {
        // Node-RED shows a validator's message only when it declares (value, opt)
        assert.equal(validate.length, 2, `${name}: validate(v, opt)`);
        assert.equal(validate.call({ folderType: 'env' }, ',%', {}), `⟦${KEY}⟧`, `${name} refuses ",%"`);
      }
    });
  });

  it('passes every editor validation on the nodes of the bundled flow and the examples', () => {
    const definitions = new Map(
      NODES.map((n) => {
        const missing: string[] = [];
        const html = readFileSync(join(ROOT, 'nodes', n, `${n}.html`), 'utf8');
        const { type, def } = register(n, html, missing);
        return [type, { node: n, def, missing }] as const;
      }),
    );
    const flows = [
      join('flows', 'medallion.json'),
      ...readdirSync(join(ROOT, 'examples')).map((f) => join('examples', f)),
    ];
    let checked = 0;
    for (const file of flows) {
      for (const saved of JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Array<
        Record<string, unknown>
      >) {
        const known = definitions.get(String(saved.type));
        if (!known) continue;
        // the editor gives a property the flow does not have its default, as on import
        const self = { ...instance(known.node, known.def, known.missing), ...saved };
        for (const [key, p] of Object.entries(known.def.defaults)) {
          if (!p.validate) continue;
          assert.equal(
            p.validate.call(self, self[key as keyof typeof self]),
            true,
            `${file}: ${saved.id} ${key}`,
          );
        }
        checked++;
      }
    }
    assert.ok(checked > 20, `${checked} nodes checked`);
  });

  for (const node of NODES) {
    describe(node, () => {
      const dir = join(ROOT, 'nodes', node);
      const html = readFileSync(join(dir, `${node}.html`), 'utf8');
      const help = readFileSync(join(dir, 'locales', 'en-US', `${node}.html`), 'utf8');
      const isConfig = node === 'pg-config';
      const prefix = isConfig ? 'node-config-input-' : 'node-input-';
      const missing: string[] = [];
      const { type, def } = register(node, html, missing);
      const template = scriptOf(html, new RegExp(` data-template-name="${type}"`));
      const inputs = def.inputs ?? 0;
      const outputs = def.outputs ?? 0;
      afterEach(() => assert.deepEqual(missing.splice(0), [], 'keys missing in the locales json'));

      it('loads resources/medallion-editor.js before its script if it uses the shared validators', () => {
        if (!html.includes('MedallionEditor')) return;
        const tag = html.indexOf(SHARED_TAG);
        assert.ok(tag >= 0, SHARED_TAG);
        assert.ok(tag < html.indexOf('<script type="text/javascript">'), 'the tag comes before the script');
      });

      it(`registers medallion-${node} in its palette category, colour, icon and palette label`, () => {
        assert.equal(type, `medallion-${node}`);
        assert.equal(def.category, isConfig ? 'config' : 'medallion');
        assert.equal(typeof def.paletteLabel, 'string');
        assert.equal(typeof def.label, 'function');
        if (isConfig) return assert.equal(def.icon, undefined);
        assert.ok(COLOURS.includes(def.color!), `colour ${def.color}`);
        assert.ok(def.icon && ICONS.includes(def.icon), `icon ${def.icon} in icons/`);
      });

      it('labels say what the node does unless it is named', () => {
        const label = String(def.label!.call(instance(node, def, missing)));
        assert.match(label, /\S: \S/, `label "${label}" names what it does`);
        assert.equal(def.label!.call(instance(node, def, missing, { name: 'Plant A' })), 'Plant A');
      });

      it('labels every port from the locales', () => {
        const ports = [
          ['outputLabels', outputs],
          ['inputLabels', inputs],
        ] as const;
        for (const [which, count] of ports) {
          if (!count) continue;
          const labels = def[which];
          assert.equal(typeof labels, 'function', which);
          for (let i = 0; i < count; i++) {
            const text = String((labels as Fn).call(instance(node, def, missing), i));
            assert.match(text, TRANSLATED, `${which}[${i}] "${text}" from the locales`);
          }
        }
      });

      it('gives every default that passes its own validation; numbers have a range', () => {
        const self = instance(node, def, missing);
        for (const [key, p] of Object.entries(def.defaults)) {
          if (p.validate) assert.equal(p.validate.call(self, p.value), true, `default of ${key}`);
          if (typeof p.value !== 'number') continue;
          assert.ok(p.validate, `${key} (a number) has a validator`);
          const outside = [-1e12, 1e12].map((v) => p.validate!.call(self, v));
          assert.ok(
            outside.some((r) => r !== true),
            `${key} has a range`,
          );
        }
      });

      it('makes a typed field a typedInput whose default type keeps what the text meant before', () => {
        const prepare = String(def.oneditprepare ?? '');
        for (const key of Object.keys(def.defaults).filter((k) => /.Type$/.test(k))) {
          assert.ok(key.slice(0, -4) in def.defaults, `${key} types a property`);
          assert.ok(
            ['str', 'num'].includes(def.defaults[key].value as string),
            `${key} defaults to str or num`,
          );
          assert.ok(prepare.includes(`typeField: '#${prefix}${key}'`), `${key} is a typedInput's type field`);
        }
      });

      it('explains a rejected value with a message from the locales', () => {
        const self = instance(node, def, missing);
        const probes = ['', ' ', 'x y', 'a;b', '"', '-1', '1.5', '1e99', '-1e12', 'ä', '${X}', 'a.b.c'];
        for (const [key, p] of Object.entries(def.defaults)) {
          if (!p.validate) continue;
          // Node-RED shows a validator's message only when it declares (value, opt); else any text means valid
          assert.equal(p.validate.length, 2, `${key}: validate(v, opt)`);
          for (const probe of probes) {
            const result = p.validate.call(self, probe);
            if (result === true) continue;
            assert.match(
              String(result),
              TRANSLATED,
              `${key} rejects ${JSON.stringify(probe)} with a message`,
            );
          }
        }
      });

      for (const [field, runtime] of Object.entries(IDENTIFIER_FIELDS[node] ?? {})) {
        it(`accepts in ${field} exactly the identifiers the runtime accepts`, () => {
          const validate = def.defaults[field].validate!;
          const self = instance(node, def, missing);
          for (const probe of IDENTIFIER_PROBES) {
            assert.equal(
              validate.call(self, probe) === true,
              accepts(runtime, probe),
              `${field}: ${JSON.stringify(probe)}`,
            );
          }
        });
      }

      it('has a form field for every property, with its strings in the locales', () => {
        const ids = new Set([...template.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
        for (const key of [...Object.keys(def.defaults), ...Object.keys(def.credentials ?? {})]) {
          assert.ok(ids.has(prefix + key), `#${prefix}${key} in the form`);
        }
        for (const [, keys] of template.matchAll(/data-i18n="([^"]+)"/g)) {
          for (const key of keys.split(';')) translator(node, missing)(key.replace(/^\[[^\]]+\]/, ''));
        }
      });

      it('has no English written into the form (labels, options, placeholders come from the locales)', () => {
        assert.doesNotMatch(template, /\splaceholder="/, 'a placeholder without data-i18n');
        const text = template
          .replace(/<style>[\s\S]*?<\/style>/g, ' ')
          .replace(/<[^>]+>/g, ' ')
          .replace(/&nbsp;/g, ' ')
          .trim();
        assert.equal(text, '', 'text outside data-i18n');
      });

      it('uses only string keys that are in the locales json', () => {
        const literal = new RegExp(`'((?:${PACK}/[\\w-]+:)?(?:${NODES.join('|')})\\.[\\w.-]*)'`, 'g');
        for (const [, key] of html.matchAll(literal)) translator(node, missing)(key);
      });

      it("has help in Node-RED's style: a summary, then the sections in order", () => {
        const body = scriptOf(help, new RegExp(` data-help-name="${type}"`)).trim();
        assert.match(body, /^<p>/, 'a summary paragraph first');
        const sections = [...body.matchAll(/<h3>([^<]+)<\/h3>/g)].map((m) => m[1]);
        const expected = [
          ...(inputs ? ['Inputs'] : []),
          ...(outputs ? ['Outputs'] : []),
          'Details',
          'References',
        ];
        assert.deepEqual(sections, expected);
        const section = (name: string) => body.split(`<h3>${name}</h3>`)[1].split('<h3>')[0];
        if (inputs) assert.match(section('Inputs'), /<dl class="message-properties">/);
        if (outputs > 1) assert.match(section('Outputs'), /<ol class="node-ports">/);
        if (outputs) assert.match(section('Outputs'), /<dl class="message-properties">/);
        assert.match(section('References'), /<a href="https:\/\//);
      });
    });
  }
});
