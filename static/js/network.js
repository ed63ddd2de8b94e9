// The network diagram: one column of input features, one per hidden layer, one of outputs.
// Each hidden unit shows its own output over the plane (kind-2 frames). All thumbnails are
// drawn into ONE canvas under the nodes: a canvas per unit would make the browser produce
// and commit a separate bitmap for each unit on every update, the main cost of a frame;
// links are SVG paths whose colour is the weight's sign and whose width is its magnitude.
// The DOM is rebuilt only when the architecture changes; weights and thumbnails update in place.

import { divergingLUT, classCss, weightColor } from './colors.js';
import { pixelCanvas } from './dom.js';
import { formatNumber } from './i18n.js';

// A weight in the link tooltip: always three significant digits ("0.50", "-1.23").
const WEIGHT_DIGITS = { minimumSignificantDigits: 3, maximumSignificantDigits: 3, useGrouping: false };

const FEATURE_LABELS = {
  x1: 'x₁', x2: 'x₂', x1_squared: 'x₁²', x2_squared: 'x₂²', x1_x2: 'x₁x₂',
  sin_x1: 'sin x₁', sin_x2: 'sin x₂',
};

export function featureLabel(name) {
  return FEATURE_LABELS[name] || name;
}

/** A feature's value at (x1, x2), to draw input thumbnails client-side. */
export function featureValue(name, x1, x2) {
  switch (name) {
    case 'x1': return x1;
    case 'x2': return x2;
    case 'x1_squared': return x1 * x1;
    case 'x2_squared': return x2 * x2;
    case 'x1_x2': return x1 * x2;
    case 'sin_x1': return Math.sin(x1);
    case 'sin_x2': return Math.sin(x2);
    default: return 0;
  }
}

const SVGNS = 'http://www.w3.org/2000/svg';
const THUMB = 24;

export class NetworkDiagram {
  /**
   * @param {HTMLElement} host
   * @param {object} cb {onHover(plane|null), onAddUnit(layer), onRemoveUnit(layer),
   *                     onActivation(layer, name), label(key, params), tooltip(text, x, y)}
   */
  constructor(host, cb) {
    this.host = host;
    this.cb = cb;
    this.key = '';
    this.lut = divergingLUT();
    this.units = []; // per hidden layer: [{slot, plane, width, height, min, max, isUnit}]
    this.scratch = null; // detached canvas: ImageData goes here, then drawImage scales it
    this.inputs = [];
    this.links = []; // links[l][i][j] = path element
    this.domain = [-6, 6, -6, 6];
    this.readOnly = false;
    this.thumbUpdates = 0;
  }

  setReadOnly(v) {
    this.readOnly = v;
    this.host.classList.toggle('read-only', v);
  }

  /** Rebuild when the architecture changes. */
  setStructure({ features, hidden, activations, classes, activationChoices, maxUnits }) {
    const key = JSON.stringify([features, hidden, activations, classes, this.domain, this.cb.label('diagram.inputs')]);
    if (key === this.key) return;
    this.key = key;
    this.spec = { features, hidden, activations, classes, activationChoices, maxUnits };
    this.build();
  }

  setDomain(domain) {
    if (JSON.stringify(domain) === JSON.stringify(this.domain)) return;
    this.domain = domain;
    if (this.spec) { this.key = ''; this.setStructure(this.spec); }
  }

  /** The whole diagram for this.spec: geometry, links, thumbnails, inputs, units, outputs. */
  build() {
    const { features, hidden, classes } = this.spec;
    this.host.textContent = '';
    const cols = [features.length, ...hidden, classes];
    const { width, height, size } = this.layout(cols);
    this.buildLinks(cols, width, height, size);
    this.buildThumbCanvas(width, height);
    this.head(0, this.cb.label('diagram.inputs'));
    this.head(cols.length - 1, this.cb.label('diagram.output'));
    this.buildInputs(features, size);
    this.units = hidden.map((n, l) => this.buildLayer(n, l, size));
    this.outputs = Array.from({ length: classes }, (_, k) => {
      const node = this.node(this.pos[cols.length - 1][k], size, 'output');
      node.style.background = classCss(k);
      node.textContent = String(k);
      return node;
    });
    if (this.weights) this.setWeights(this.weights);
  }

  /** Node size, gaps and every node's centre (this.pos, this.xs) for columns of `cols` nodes. */
  layout(cols) {
    const host = this.host;
    const maxN = Math.max(...cols, 1);
    const width = host.clientWidth || 500;
    const headH = 64;
    // Tall enough that 16 units still get readable thumbnails; capped for huge layers.
    const avail = Math.max(260, Math.min(760, window.innerHeight * 0.72)) - headH;
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 15;
    const size = Math.max(8, Math.min(Math.round(rem * 3), Math.floor((avail / maxN) * 0.8)));
    const gap = Math.max(2, Math.min(12, Math.round(size * 0.25)));
    const height = headH + maxN * (size + gap) + 10;
    host.style.height = `${height}px`;
    host.style.setProperty('--node', `${size}px`);
    const xs = cols.map((_, c) => Math.round(20 + size / 2 + (c * (width - 40 - size)) / Math.max(1, cols.length - 1)));
    const ys = (n) => Array.from({ length: n }, (_, i) => headH + (maxN - n) * (size + gap) / 2 + i * (size + gap) + size / 2);
    this.xs = xs;
    this.pos = cols.map((n, c) => ys(n).map((y) => [xs[c], y]));
    return { width, height, size };
  }

  /** One SVG path per weight, keyed by data-layer/i/j (hover shows it, a click edits it). */
  buildLinks(cols, width, height, size) {
    const svg = document.createElementNS(SVGNS, 'svg');
    svg.setAttribute('class', 'links');
    svg.setAttribute('width', width);
    svg.setAttribute('height', height);
    this.host.append(svg);
    this.svg = svg;
    this.links = [];
    for (let l = 0; l < cols.length - 1; l++) {
      const layer = [];
      for (let i = 0; i < cols[l]; i++) {
        const row = [];
        for (let j = 0; j < cols[l + 1]; j++) {
          const [ax, ay] = this.pos[l][i];
          const [bx, by] = this.pos[l + 1][j];
          const p = document.createElementNS(SVGNS, 'path');
          const x0 = ax + size / 2, x1 = bx - size / 2;
          const mx = (x0 + x1) / 2;
          p.setAttribute('d', `M${x0},${ay} C${mx},${ay} ${mx},${by} ${x1},${by}`);
          p.setAttribute('class', 'link');
          p.dataset.layer = l; p.dataset.i = i; p.dataset.j = j;
          svg.append(p);
          row.push(p);
        }
        layer.push(row);
      }
      this.links.push(layer);
    }
    svg.addEventListener('pointermove', (e) => this.linkHover(e));
    svg.addEventListener('pointerleave', () => this.cb.tooltip(null));
    svg.addEventListener('click', (e) => this.linkClick(e));
  }

  /** One canvas under the nodes for every thumbnail (one paint per frame, not one per unit). */
  buildThumbCanvas(width, height) {
    const dpr = window.devicePixelRatio || 1;
    const thumbs = document.createElement('canvas');
    thumbs.className = 'thumbs';
    thumbs.setAttribute('data-testid', 'thumbnails');
    thumbs.width = Math.round(width * dpr);
    thumbs.height = Math.round(height * dpr);
    thumbs.style.width = `${width}px`;
    thumbs.style.height = `${height}px`;
    this.host.append(thumbs);
    this.thumbs = thumbs;
    this.tctx = thumbs.getContext('2d');
    this.tctx.imageSmoothingEnabled = true;
    this.dpr = dpr;
  }

  head(c, text) {
    const d = document.createElement('div');
    d.className = 'col-head';
    d.style.left = `${this.xs[c]}px`;
    d.textContent = text;
    this.host.append(d);
    return d;
  }

  /** Input nodes, with thumbnails of their feature computed here. */
  buildInputs(features, size) {
    this.inputs = features.map((f, i) => {
      const node = this.node(this.pos[0][i], size, 'input');
      node.setAttribute('data-testid', 'input-node');
      const plane = this.featurePlane(f);
      this.paintThumb(this.slot(this.pos[0][i], size), plane);
      const lab = document.createElement('span');
      lab.className = 'node-label';
      lab.textContent = featureLabel(f);
      node.append(lab);
      node.addEventListener('pointerenter', () => this.cb.onHover(plane));
      node.addEventListener('pointerleave', () => this.cb.onHover(null));
      return { node, plane };
    });
  }

  /** Hidden layer l of n units: its head (-/+ units, count, activation) and its nodes. */
  buildLayer(n, l, size) {
    const { activations, activationChoices, maxUnits } = this.spec;
    const h = this.head(l + 1, '');
    h.classList.add('layer-head');
    const bar = document.createElement('div');
    bar.className = 'unit-bar';
    const minus = this.button('−', 'btn.remove_unit', () => this.cb.onRemoveUnit(l));
    minus.setAttribute('data-testid', `remove-unit-${l}`);
    minus.disabled = n <= 1;
    const plus = this.button('+', 'btn.add_unit', () => this.cb.onAddUnit(l));
    plus.setAttribute('data-testid', `add-unit-${l}`);
    plus.disabled = n >= maxUnits;
    bar.append(minus, plus);
    const count = document.createElement('div');
    count.className = 'unit-count';
    count.textContent = this.cb.label('diagram.units', { n });
    const sel = document.createElement('select');
    sel.className = 'act-select';
    sel.setAttribute('data-testid', `activation-${l}`);
    sel.title = this.cb.label('c.activation');
    for (const a of activationChoices || [activations[l]]) {
      const o = document.createElement('option');
      o.value = a; o.textContent = a;
      sel.append(o);
    }
    sel.value = activations[l] ?? activations[0];
    sel.addEventListener('change', () => this.cb.onActivation(l, sel.value));
    h.append(bar, count, sel);
    return Array.from({ length: n }, (_, u) => {
      const node = this.node(this.pos[l + 1][u], size, 'unit');
      node.setAttribute('data-testid', 'unit-node');
      node.dataset.layer = l; node.dataset.unit = u;
      const unit = { slot: this.slot(this.pos[l + 1][u], size), plane: null, min: 0, max: 0, layer: l, index: u, isUnit: true };
      node.addEventListener('pointerenter', (e) => {
        if (unit.plane) this.cb.onHover(unit);
        this.cb.tooltip(this.cb.label('diagram.unit', { l: l + 1, u: u + 1 }), e.clientX, e.clientY);
      });
      node.addEventListener('pointerleave', () => { this.cb.onHover(null); this.cb.tooltip(null); });
      return unit;
    });
  }

  button(text, titleKey, onClick) {
    const b = document.createElement('button');
    b.className = 'btn-round tiny';
    b.textContent = text;
    b.title = this.cb.label(titleKey);
    b.addEventListener('click', onClick);
    return b;
  }

  node([x, y], size, cls) {
    const d = document.createElement('div');
    d.className = `node ${cls}`;
    d.style.left = `${x - size / 2}px`;
    d.style.top = `${y - size / 2}px`;
    d.style.width = `${size}px`;
    d.style.height = `${size}px`;
    this.host.append(d);
    return d;
  }

  /** Where a node's thumbnail goes on the shared canvas, in device pixels. */
  slot([x, y], size) {
    const d = this.dpr;
    return { x: Math.round((x - size / 2) * d), y: Math.round((y - size / 2) * d), size: Math.round(size * d) };
  }

  featurePlane(name) {
    const [x0, x1, y0, y1] = this.domain;
    const n = 48;
    const vals = new Float32Array(n * n);
    let min = Infinity, max = -Infinity;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        const v = featureValue(name, x0 + ((c + 0.5) / n) * (x1 - x0), y1 - ((r + 0.5) / n) * (y1 - y0));
        vals[r * n + c] = v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    const plane = new Uint8Array(n * n);
    const span = max - min || 1;
    for (let i = 0; i < n * n; i++) plane[i] = Math.round(((vals[i] - min) / span) * 255);
    return { plane, width: n, height: n, min, max };
  }

  paintThumb(slot, { plane, width, height, min, max }) {
    const sc = pixelCanvas(this.scratch, width, height);
    this.scratch = sc;
    const px = sc._px;
    const scale = Math.max(Math.abs(min), Math.abs(max)) || 1;
    const span = max - min;
    const lut = this.lut;
    // byte b means min + b/255 * span; map that value onto the palette over [-scale, scale].
    const a = (span / 255 / scale) * 127.5;
    const c = (min / scale + 1) * 127.5;
    for (let i = 0; i < width * height; i++) {
      const k = Math.round(plane[i] * a + c);
      px[i] = lut[k < 0 ? 0 : k > 255 ? 255 : k];
    }
    sc._ctx.putImageData(sc._img, 0, 0);
    this.tctx.drawImage(sc, 0, 0, width, height, slot.x, slot.y, slot.size, slot.size);
  }

  /** A kind-2 frame: one plane per hidden unit (layer 0 first), then (min, max) float32 pairs. */
  setUnitFrame(frame) {
    const { channels, width: w, height: h, body } = frame;
    const flat = this.units.flat();
    if (flat.length !== channels) return; // architecture change in flight
    const dv = new DataView(frame.buffer, 16 + channels * w * h, channels * 8);
    for (let c = 0; c < channels; c++) {
      const u = flat[c];
      u.plane = body.subarray(c * w * h, (c + 1) * w * h);
      u.width = w;
      u.height = h;
      u.min = dv.getFloat32(c * 8, true);
      u.max = dv.getFloat32(c * 8 + 4, true);
      this.paintThumb(u.slot, u);
    }
    this.thumbUpdates += 1;
  }

  /** Weights from a model document: links' colour and width follow them. */
  setWeights(doc) {
    this.weights = doc;
    if (!doc || !doc.layers) return;
    let scale = 0;
    for (const layer of doc.layers) for (const row of layer.weights) for (const w of row) scale = Math.max(scale, Math.abs(w));
    this.weightScale = scale || 1;
    doc.layers.forEach((layer, l) => {
      const links = this.links[l];
      if (!links || links.length !== layer.weights.length) return;
      layer.weights.forEach((row, i) => {
        if (!links[i] || links[i].length !== row.length) return;
        row.forEach((w, j) => {
          const p = links[i][j];
          p.style.stroke = weightColor(w, this.weightScale);
          p.style.strokeWidth = (0.6 + 5 * Math.min(1, Math.abs(w) / this.weightScale)).toFixed(2);
          p.dataset.w = w;
        });
      });
    });
  }

  /** A click on a link: where it goes and its weight, for the weight editor. */
  linkClick(e) {
    let p = e.target.closest && e.target.closest('path.link');
    // Links are thin: a tap that just misses one (fingers on a tablet) takes the nearest
    // link within a few pixels.
    for (let r = 4; !p && r <= 12; r += 4) {
      for (const [dx, dy] of [[0, -r], [0, r], [-r, 0], [r, 0], [-r, -r], [r, r], [-r, r], [r, -r]]) {
        p = document.elementsFromPoint(e.clientX + dx, e.clientY + dy).find((el) => el.matches && el.matches('path.link'));
        if (p) break;
      }
    }
    if (!p || this.readOnly || !this.cb.onLinkClick) return;
    const l = +p.dataset.layer;
    const i = +p.dataset.i;
    const j = +p.dataset.j;
    const { from, to } = this.linkEnds(l, i, j);
    this.cb.onLinkClick({ layer: l, i, j, w: p.dataset.w == null ? null : +p.dataset.w, from, to, x: e.clientX, y: e.clientY });
  }

  linkEnds(l, i, j) {
    const from = l === 0 ? featureLabel(this.spec.features[i]) : `h${l}.${i + 1}`;
    const to = l === this.spec.hidden.length ? `out ${j}` : `h${l + 1}.${j + 1}`;
    return { from, to };
  }

  linkHover(e) {
    const p = e.target.closest && e.target.closest('path.link');
    if (!p || p.dataset.w == null) { this.cb.tooltip(null); return; }
    const { from, to } = this.linkEnds(+p.dataset.layer, +p.dataset.i, +p.dataset.j);
    this.cb.tooltip(this.cb.label('diagram.weight', { from, to, w: formatNumber(+p.dataset.w, WEIGHT_DIGITS) }), e.clientX, e.clientY);
  }
}
