// Small helpers shared by the page modules: build an element, format a number, an offscreen
// canvas to write pixels into.

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'testid') e.setAttribute('data-testid', v);
    else if (k === 'i18n') e.dataset.i18n = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

/** A number for a table or a label: 4 significant digits, exponent when tiny or huge. */
export function fmt(v, digits = 4) {
  if (v == null || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return String(+v.toPrecision(digits));
}

/**
 * A detached w x h canvas with its ImageData and a Uint32 view of the pixels (`_ctx`, `_img`,
 * `_px`): write `_px`, then `_ctx.putImageData(_img, 0, 0)` and drawImage it scaled.
 * `old` is returned as it is when it already has that size.
 */
export function pixelCanvas(old, w, h) {
  if (old && old.width === w && old.height === h) return old;
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  c._ctx = c.getContext('2d');
  c._img = c._ctx.createImageData(w, h);
  c._px = new Uint32Array(c._img.data.buffer);
  return c;
}
