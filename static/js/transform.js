// The transformed space (live `transform` messages while the panel is open): the input plane's
// grid and the data points mapped through one hidden layer, read at two of its units. Students
// watch the network bend the plane until the classes come apart along straight lines.

import { el } from './dom.js';
import { classCss } from './colors.js';

export class TransformPanel {
  constructor(canvas, controls, ctx) {
    this.canvas = canvas;
    this.controls = controls;
    this.ctx = ctx;
    this.t = ctx.t;
    this.layer = 0;
    this.units = [0, 1];
    this.key = '';
    this.last = null;
    this.draws = 0;
  }

  spec() {
    const hidden = this.ctx.config()?.network?.hidden_layers || [];
    if (!hidden.length) return null;
    return { layer: this.layer, units: this.units, mesh: 21 };
  }

  /** Rebuild the selectors when the architecture changes; keep the choice valid. */
  onConfig(config) {
    const hidden = config?.network?.hidden_layers || [];
    const key = JSON.stringify([hidden, this.t('tr.layer')]);
    const before = JSON.stringify([this.layer, this.units]);
    this.layer = Math.min(this.layer, Math.max(0, hidden.length - 1));
    const n = hidden[this.layer] || 1;
    this.units = this.units.map((u) => Math.min(u, n - 1));
    if (n > 1 && this.units[0] === this.units[1]) this.units = [0, 1];
    if (key !== this.key) {
      this.key = key;
      this.build(hidden);
    }
    if (before !== JSON.stringify([this.layer, this.units])) this.ctx.resubscribe();
  }

  build(hidden) {
    const host = this.controls;
    host.textContent = '';
    if (!hidden.length) {
      host.append(el('p', { class: 'hint' }, this.t('tr.none')));
      return;
    }
    const layerSel = el('select', { testid: 'transform-layer' });
    hidden.forEach((n, l) => layerSel.append(el('option', { value: l }, `${l + 1} (${n})`)));
    layerSel.value = String(this.layer);
    const unitSel = (k, testid) => {
      const s = el('select', { testid });
      for (let u = 0; u < hidden[this.layer]; u++) s.append(el('option', { value: u }, String(u + 1)));
      s.value = String(this.units[k]);
      s.addEventListener('change', () => { this.units[k] = +s.value; this.ctx.resubscribe(); });
      return s;
    };
    layerSel.addEventListener('change', () => {
      this.layer = +layerSel.value;
      const n = hidden[this.layer];
      this.units = [0, Math.min(1, n - 1)];
      this.build(hidden);
      this.ctx.resubscribe();
    });
    const f = (key, input) => el('label', { class: 'field' }, el('span', { class: 'field-label' }, this.t(key)), input);
    host.append(f('tr.layer', layerSel), f('tr.unit_a', unitSel(0, 'transform-unit-a')), f('tr.unit_b', unitSel(1, 'transform-unit-b')));
  }

  onTransform(msg) {
    this.last = msg;
    this.draw();
  }

  draw() {
    const msg = this.last;
    if (!msg) return;
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const r = c.getBoundingClientRect();
    const W = Math.max(50, Math.round((r.width || 300) * dpr));
    if (c.width !== W || c.height !== W) { c.width = W; c.height = W; }
    const ctx = c.getContext('2d');
    ctx.fillStyle = '#fbfbf8';
    ctx.fillRect(0, 0, W, W);
    const mesh = msg.mesh?.points || [];
    const size = msg.mesh?.size || 0;
    const pts = msg.points || [];
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const p of mesh.concat(pts)) {
      if (!p || p[0] == null || p[1] == null) continue;
      if (p[0] < x0) x0 = p[0];
      if (p[0] > x1) x1 = p[0];
      if (p[1] < y0) y0 = p[1];
      if (p[1] > y1) y1 = p[1];
    }
    if (!Number.isFinite(x0)) return;
    const span = Math.max(x1 - x0, y1 - y0, 1e-6);
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    const pad = 0.08 * W;
    const X = (u) => pad + ((u - cx) / span + 0.5) * (W - 2 * pad);
    const Y = (v) => W - pad - ((v - cy) / span + 0.5) * (W - 2 * pad);
    drawMesh(ctx, mesh, size, X, Y, dpr);
    const data = this.ctx.data();
    const labels = data && data.points && data.points.length === pts.length ? data.labels : null;
    const rad = Math.max(2, 3 * dpr);
    pts.forEach((p, i) => {
      if (!p || p[0] == null) return;
      const lab = labels ? labels[i] : 0;
      ctx.fillStyle = labels ? classCss(Number.isInteger(lab) ? lab : (lab < 0 ? 0 : 1)) : '#888';
      ctx.beginPath();
      ctx.arc(X(p[0]), Y(p[1]), rad, 0, Math.PI * 2);
      ctx.fill();
    });
    ctx.fillStyle = '#5b6675';
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText(`h${msg.layer + 1}.${msg.units[0] + 1} →`, W / 2, W - 2);
    ctx.save();
    ctx.translate(12 * dpr, W / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(`h${msg.layer + 1}.${msg.units[1] + 1} →`, 0, 0);
    ctx.restore();
    this.draws += 1;
  }
}

/** Mesh lines: rows (x2 fixed) and columns (x1 fixed) of the input grid, warped. */
function drawMesh(ctx, mesh, size, X, Y, dpr) {
  ctx.lineWidth = Math.max(1, dpr);
  ctx.strokeStyle = 'rgba(60, 70, 90, 0.45)';
  ctx.beginPath();
  const line = (a, b) => { if (b && b[0] != null) { ctx.moveTo(X(a[0]), Y(a[1])); ctx.lineTo(X(b[0]), Y(b[1])); } };
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const a = mesh[i * size + j];
      if (!a || a[0] == null) continue;
      if (j + 1 < size) line(a, mesh[i * size + j + 1]);
      if (i + 1 < size) line(a, mesh[(i + 1) * size + j]);
    }
  }
  ctx.stroke();
}
