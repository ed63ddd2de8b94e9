// CSV in and out for the data panel. Parsing happens here, with line numbers, so a teacher
// sees "line 7: ..." before anything is sent to the server.

/**
 * Parse "x1,x2,label" lines. A first line that is not numeric is a header. Blank lines and
 * lines starting with # are skipped. Returns {points, labels} or {error: {line, code, params}}.
 */
export function parseCsv(text, maxClasses = 8) {
  const points = [];
  const labels = [];
  const lines = String(text).split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    const cells = line.split(/[,;\t]/).map((c) => c.trim());
    if (points.length === 0 && labels.length === 0 && cells.some((c) => c !== '' && !Number.isFinite(Number(c))) && i === firstContentLine(lines)) {
      continue; // header
    }
    const err = (code, params) => ({ error: { line: i + 1, code, params } });
    if (cells.length !== 3) return err('fields', { n: cells.length });
    const x1 = Number(cells[0]);
    const x2 = Number(cells[1]);
    if (cells[0] === '' || !Number.isFinite(x1)) return err('number', { value: cells[0] });
    if (cells[1] === '' || !Number.isFinite(x2)) return err('number', { value: cells[1] });
    const k = Number(cells[2]);
    if (cells[2] === '' || !Number.isInteger(k) || k < 0 || k >= maxClasses) return err('label', { value: cells[2] });
    points.push([x1, x2]);
    labels.push(k);
  }
  return { points, labels };
}

function firstContentLine(lines) {
  return lines.findIndex((l) => l.trim() && !l.trim().startsWith('#'));
}

/** The current data as CSV in the same x1,x2,label form the upload reads. */
export function toCsv(data) {
  const rows = ['x1,x2,label'];
  data.points.forEach((p, i) => {
    rows.push(`${p[0]},${p[1]},${data.labels[i]}`);
  });
  return rows.join('\n') + '\n';
}
