/**
 * Form validators shared by the pack's editor files. Node-RED serves this folder at
 * resources/node-red-iot-medallion/; each nodes/<node>/<node>.html that uses it has
 * <script src="resources/node-red-iot-medallion/medallion-editor.js"></script> before its own
 * script. The editor loads such a script (relative to its admin root) before it runs the
 * module's node scripts, once for every node file that has the tag: the first copy is kept.
 *
 * Every factory takes the full message key in the node's own locales (e.g.
 * 'node-red-iot-medallion/pg-write:pg-write.errors.range') and returns a validator
 * `function (v, opt)`: Node-RED 3+ takes a returned text as the error only from a validator
 * that declares two arguments.
 */
window.MedallionEditor =
  window.MedallionEditor ||
  (function () {
    // the rules of lib/pg/identifiers.ts: a PostgreSQL name of at most 63 characters, unquoted
    var IDENT = '[A-Za-z_][A-Za-z0-9_]{0,62}';
    var IDENTIFIER = new RegExp('^' + IDENT + '$');
    var TABLE = new RegExp('^\\s*(' + IDENT + '\\.)?' + IDENT + '\\s*$');
    var COLUMNS = new RegExp('^\\s*(' + IDENT + '([\\s,]+' + IDENT + ')*)?\\s*$');
    var ENV = /^\s*(\$\{)?[A-Za-z_][A-Za-z0-9_]*\}?\s*$/;
    var LAYER = /^\s*[A-Za-z0-9_.-]*\s*$/;
    var LAYERS = /^\s*[A-Za-z0-9_.-]+(\s*,\s*[A-Za-z0-9_.-]+)*\s*$/;
    var LIST = /^\s*([^,]+(\s*,\s*[^,]+)*)?\s*$/;
    var NAMES = /^\s*([A-Za-z_][A-Za-z0-9_]*(\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)?\s*$/;

    /** The text (empty when missing) matches `re`. */
    function matches(re, key) {
      return function (v, opt) {
        return re.test(v || '') || RED._(key);
      };
    }

    /** Blank text (the node's default) or what `validate` accepts. */
    function orBlank(validate) {
      return function (v, opt) {
        return String(v || '').trim() === '' || validate.call(this, v, opt);
      };
    }

    /** A number written out (not blank) for which `ok` holds; the message gets `params`. */
    function numeric(ok, key, params) {
      return function (v, opt) {
        var n = Number(v);
        return (String(v).trim() !== '' && isFinite(n) && ok(n)) || RED._(key, params);
      };
    }

    /** A number from min to max. */
    function number(min, max, key) {
      return numeric(
        function (n) {
          return n >= min && n <= max;
        },
        key,
        { min: min, max: max },
      );
    }

    /** A whole number from min to max. */
    function wholeNumber(min, max, key) {
      return numeric(
        function (n) {
          return Number.isInteger(n) && n >= min && n <= max;
        },
        key,
        { min: min, max: max },
      );
    }

    /** A number above 0, at most max. */
    function positive(max, key) {
      return numeric(
        function (n) {
          return n > 0 && n <= max;
        },
        key,
        { max: max },
      );
    }

    /**
     * A field typed by a typedInput (`<prop>Type`: the open form's, else the node's): an
     * environment variable's name when the type is env, else what `otherwise` accepts (any text
     * when there is none).
     */
    function typed(prop, envKey, otherwise) {
      var env = matches(ENV, envKey);
      return function (v, opt) {
        var type = $('#node-input-' + prop + 'Type').val() || this[prop + 'Type'];
        if (type === 'env') return env(v, opt);
        return otherwise ? otherwise.call(this, v, opt) : true;
      };
    }

    /** The factory of validators that accept what `re` matches. */
    function pattern(re) {
      return function (key) {
        return matches(re, key);
      };
    }

    return {
      matches: matches,
      orBlank: orBlank,
      number: number,
      wholeNumber: wholeNumber,
      positive: positive,
      typed: typed,
      /** An environment variable's name, `NAME` or `${NAME}`. */
      envName: pattern(ENV),
      /** One PostgreSQL identifier, as written (no spaces around it). */
      identifier: pattern(IDENTIFIER),
      /** A table, `name` or `schema.name`. */
      table: pattern(TABLE),
      /** Column names separated by commas or spaces, or none. */
      columnList: pattern(COLUMNS),
      /** Field names (letters, digits, _) separated by commas, or none. */
      nameList: pattern(NAMES),
      /** Items separated by commas, none of them empty, or none at all. */
      list: pattern(LIST),
      /** One layer name (letters, digits, _ . -), or empty. */
      layer: pattern(LAYER),
      /** One or more layer names separated by commas. */
      layerList: pattern(LAYERS),
    };
  })();
