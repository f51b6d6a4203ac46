/**
 * File-name globs for the landing folder: `*`, `?`, `[abc]`, `[!abc]` and `{a,b}`,
 * matched against a name (never a path), case-sensitively. Like a shell, `*` and `?`
 * do not match a leading dot, so editors' and copy tools' hidden temporary files are
 * never picked up.
 */
export class GlobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GlobError';
  }
}

const SPECIAL = /[.+^$()|\\/]/;

export function globToRegExp(glob: string): RegExp {
  const pattern = glob.trim();
  if (!pattern) throw new GlobError('the file pattern is empty: use e.g. *.csv');
  if (pattern.includes('/') || pattern.includes('\\')) {
    throw new GlobError(`the file pattern "${pattern}" has a path separator: it matches file names only`);
  }
  let re = '';
  let inBraces = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      // the first character of the class (after a !) may be a ], which is then a member
      const close = pattern.indexOf(']', pattern[i + 1] === '!' ? i + 3 : i + 2);
      if (close < 0) throw new GlobError(`the file pattern "${pattern}" has a [ without its ]`);
      let body = pattern.slice(i + 1, close);
      const negated = body.startsWith('!');
      if (negated) body = body.slice(1);
      body = body.replace(/\\/g, '\\\\').replace(/^\]/, '\\]');
      re += `[${negated ? '^' : ''}${body}]`;
      i = close;
    } else if (c === '{' && !inBraces) {
      inBraces = true;
      re += '(?:';
    } else if (c === ',' && inBraces) re += '|';
    else if (c === '}' && inBraces) {
      inBraces = false;
      re += ')';
    } else re += SPECIAL.test(c) ? `\\${c}` : c;
  }
  if (inBraces) throw new GlobError(`the file pattern "${pattern}" has a { without its }`);
  return new RegExp(`^(?!\\.)${re}$`);
}

export function globMatcher(glob: string): (name: string) => boolean {
  const re = globToRegExp(glob);
  return (name) => re.test(name);
}
