// CSV in and out for the data panel. Parsing happens here, with line numbers, so a teacher
// sees "line 7: ..." before anything is sent to the server. The rules are the server's
// (mlp_playground.data.datasets.parse_csv), and tests/csv_cases.json holds both parsers to them:
//  1. lines split on \n or \r\n; blank lines and lines starting with '#' are skipped;
//  2. the delimiter comes from the first other line: ';' if it has one, else a tab if it has
//     one, else ',';
//  3. fields may be double-quoted ("..." with "" for a literal quote), RFC 4180 style; quotes
//     are removed and surrounding spaces trimmed;
//  4. with ';' or a tab, a decimal comma is accepted ("0,5" is 0.5); with ',' only inside
//     quotes;
//  5. a first line whose fields are not all numbers is a header, and skipped;
//  6. every row is x1, x2, label (an integer class).
// A French spreadsheet's export ("0,5;1,2;0") therefore reads as it looks.

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DECIMAL_COMMA = /^[+-]?\d+,\d+([eE][+-]?\d+)?$/;

/** The delimiter a file uses, from its first line of data (rule 2). */
function delimiterOf(line) {
  if (line.includes(';')) return ';';
  if (line.includes('\t')) return '\t';
  return ',';
}

/**
 * One line's fields: [{text, quoted}], or null when a quote is left open or text follows a
 * closing quote (rule 3).
 */
export function splitFields(line, delim) {
  const fields = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ') i++;
    if (line[i] === '"') {
      let text = '';
      i++;
      for (;;) {
        if (i >= line.length) return null; // unclosed quote
        if (line[i] === '"') {
          if (line[i + 1] === '"') { text += '"'; i += 2; continue; }
          i++;
          break;
        }
        text += line[i++];
      }
      while (line[i] === ' ') i++;
      if (i < line.length && line[i] !== delim) return null;
      fields.push({ text: text.trim(), quoted: true });
    } else {
      let j = line.indexOf(delim, i);
      if (j < 0) j = line.length;
      fields.push({ text: line.slice(i, j).trim(), quoted: false });
      i = j;
    }
    if (i >= line.length) return fields;
    i++; // the delimiter
  }
}

/** A field's number (rule 4), or null when it is not one. */
function toNumber(field, delim) {
  let s = field.text;
  if ((delim !== ',' || field.quoted) && DECIMAL_COMMA.test(s)) s = s.replace(',', '.');
  if (!NUMBER.test(s)) return null;
  const v = Number(s);
  return Number.isFinite(v) ? v : null;
}

/**
 * Parse "x1,x2,label" lines (the rules above). Returns {points, labels} or
 * {error: {line, code, params}} with the 1-based line number; code is one of "quote",
 * "fields", "number", "label" (a message key, msg.csv_<code>).
 */
export function parseCsv(text, maxClasses) {
  const points = [];
  const labels = [];
  const lines = String(text).replace(/^\ufeff/, '').split(/\r?\n/);
  let delim = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    const err = (code, params = {}) => ({ error: { line: i + 1, code, params } });
    const first = delim === null;
    if (first) delim = delimiterOf(line);
    const fields = splitFields(line, delim);
    if (!fields) return err('quote');
    const numbers = fields.map((f) => toNumber(f, delim));
    if (first && numbers.some((v) => v === null)) continue; // a header (rule 5)
    if (fields.length !== 3) return err('fields', { n: fields.length });
    for (const c of [0, 1]) if (numbers[c] === null) return err('number', { value: fields[c].text });
    const k = numbers[2];
    if (k === null || !Number.isInteger(k) || k < 0 || k >= maxClasses) return err('label', { value: fields[2].text });
    points.push([numbers[0], numbers[1]]);
    labels.push(k);
  }
  return { points, labels };
}

/** The current data as CSV in the same x1,x2,label form the upload reads. */
export function toCsv(data) {
  const rows = ['x1,x2,label'];
  data.points.forEach((p, i) => {
    rows.push(`${p[0]},${p[1]},${data.labels[i]}`);
  });
  return rows.join('\n') + '\n';
}
