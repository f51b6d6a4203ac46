/**
 * CSV injection (OWASP): a cell a spreadsheet would run as a formula is written with a
 * leading apostrophe in every CSV the pack writes for people to open (quarantine files,
 * report downloads).
 */

const FORMULA = /^[=+\-@\t\r]/;
const NUMBER = /^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$/;

/**
 * A cell starting with = + - @ tab or CR is a formula to Excel and LibreOffice: it gets a
 * leading apostrophe, unless it is a plain number such as -3.5.
 */
export function neutralize(cell: string): string {
  return FORMULA.test(cell) && !NUMBER.test(cell) ? `'${cell}` : cell;
}
