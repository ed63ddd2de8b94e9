// Small helpers shared by the page modules: build an element, an offscreen canvas to write
// pixels into. Numbers are formatted by i18n.js (the language decides how they print).

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
