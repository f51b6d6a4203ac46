import assert from 'node:assert/strict';
import {
  assertIdentifier,
  assertSchemaNames,
  DEFAULT_SCHEMAS,
  IdentifierError,
  parseColumnList,
  qualified,
  quoteIdent,
  resolveTable,
} from '../../lib/pg/identifiers';

describe('lib/pg/identifiers', () => {
  it('accepts plain identifiers and quotes them', () => {
    for (const ok of ['records', '_x', 'Room_1', 'a'.repeat(63)]) assert.equal(assertIdentifier(ok), ok);
    assert.equal(quoteIdent('line_no'), '"line_no"');
  });

  it('rejects anything that could change a statement', () => {
    for (const bad of [
      '',
      ' ',
      '1abc',
      'a b',
      'a"b',
      'a;drop table x',
      'x--',
      'ä',
      'a.b',
      'a'.repeat(64),
      "o'k",
    ]) {
      assert.throws(() => assertIdentifier(bad, 'table name'), IdentifierError, bad);
    }
    assert.throws(() => quoteIdent('records"; DROP TABLE x; --'), /invalid identifier/);
  });

  it('names the field and the rule in the message', () => {
    assert.throws(() => assertIdentifier('my table', 'table name'), {
      message: /invalid table name "my table": use letters, digits and underscores/,
    });
  });

  it('resolves layer schemas through the configured names', () => {
    const schemas = { medallion: 'm', bronze: 'raw', silver: 'clean', gold: 'agg' };
    assert.deepEqual(resolveTable('bronze.records', schemas), { schema: 'raw', table: 'records' });
    assert.deepEqual(resolveTable('gold.metric_windows', schemas), {
      schema: 'agg',
      table: 'metric_windows',
    });
    assert.deepEqual(resolveTable('bronze.records'), { schema: 'bronze', table: 'records' });
    assert.deepEqual(resolveTable('plant.readings', schemas), { schema: 'plant', table: 'readings' });
    assert.deepEqual(resolveTable(' readings '), { schema: 'public', table: 'readings' });
    assert.equal(qualified(resolveTable('silver.x', schemas)), '"clean"."x"');
  });

  it('rejects malformed table references', () => {
    for (const bad of ['', 'a.b.c', '.x', 'x.', 'bronze.re cords', 'bronze."x"']) {
      assert.throws(() => resolveTable(bad), IdentifierError, bad);
    }
  });

  it('checks schema names are valid and distinct', () => {
    assert.deepEqual(assertSchemaNames({ ...DEFAULT_SCHEMAS }), DEFAULT_SCHEMAS);
    assert.throws(() => assertSchemaNames({ ...DEFAULT_SCHEMAS, gold: 'silver' }), /must all differ/);
    assert.throws(() => assertSchemaNames({ ...DEFAULT_SCHEMAS, bronze: 'br onze' }), /bronze schema name/);
  });

  it('parses column lists from a form field', () => {
    assert.deepEqual(parseColumnList(''), []);
    assert.deepEqual(parseColumnList(undefined), []);
    assert.deepEqual(parseColumnList(' source_key, line_no '), ['source_key', 'line_no']);
    assert.deepEqual(parseColumnList('a b,c'), ['a', 'b', 'c']);
    assert.throws(() => parseColumnList('a, b-c', 'key column'), /invalid key column "b-c"/);
  });
});
