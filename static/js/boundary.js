// The decision boundary: the grid frame painted into an N×N ImageData canvas that CSS scales
// up (cheap: one putImageData per frame), the points on a second canvas at screen resolution,
// and the axes with ticks on a third canvas around the plot.

import { decisionLUT, divergingLUT, classCss } from './colors.js';
import { formatNumber } from './i18n.js';

export class Boundary {
  constructor({ grid, points, axes, plot }) {
    this.grid = grid;
    this.points = points;
    this.axes = axes;
    this.plot = plot;
    this.gctx = grid.getContext('2d');
    this.pctx = points.getContext('2d');
    this.actx = axes.getContext('2d');
    this.domain = [-6, 6, -6, 6];
    this.classes = 2;
    this.discrete = false;
    this.showValidation = true;
    this.data = { points: [], labels: [], split: [] };
    this.lut = decisionLUT(2, false);
    this.divLut = divergingLUT();
    this.lastFrame = null;
    this.neuron = null; // {plane, width, height, min, max} when a unit is hovered
    this.image = null;
    this.framesPainted = 0;
  }

  setClasses(k) {
    if (k === this.classes) return;
    this.classes = k;
    this.lut = decisionLUT(k, this.discrete);
    this.repaint();
  }

  setDiscrete(d) {
    this.discrete = !!d;
    this.lut = decisionLUT(this.classes, this.discrete);
    this.repaint();
  }

  setShowValidation(v) {
    this.showValidation = !!v;
    this.drawPoints();
  }

  setData(msg) {
    this.data = msg;
    if (msg.domain) this.domain = msg.domain;
    if (msg.classes) this.setClasses(msg.classes);
    this.drawPoints();
    this.drawAxes();
  }

  ensureImage(w, h) {
    if (this.grid.width !== w || this.grid.height !== h) {
      this.grid.width = w;
      this.grid.height = h;
      this.image = null;
    }
    if (!this.image) {
      this.image = this.gctx.createImageData(w, h);
      this.pixels = new Uint32Array(this.image.data.buffer);
    }
  }

  /** Paint a kind-1 frame (2 bytes a cell: class, round(255 * probability)) or a kind-4
   *  regression frame (1 byte a cell: round(255 * (clip(y, -1, 1) + 1) / 2)). */
  paintFrame(frame) {
    this.lastFrame = frame;
    if (this.neuron) return;
    const { width: w, height: h, body } = frame;
    this.ensureImage(w, h);
    const px = this.pixels;
    const n = w * h;
    if (frame.kind === 4) {
      // Regression: one byte a cell, the output clipped to [-1, 1], on the diverging palette.
      const lut = this.divLut;
      for (let i = 0; i < n; i++) px[i] = lut[body[i]];
    } else {
      const lut = this.lut;
      for (let i = 0, j = 0; i < n; i++, j += 2) px[i] = lut[((body[j] & 7) << 8) | body[j + 1]];
    }
    this.gctx.putImageData(this.image, 0, 0);
    this.framesPainted += 1;
  }

  /** Show one hidden unit's output full size instead of the decision (hover in the diagram). */
  showNeuron(neuron) {
    this.neuron = neuron;
    if (!neuron) { this.repaint(); return; }
    const { plane, width: w, height: h, min, max } = neuron;
    this.ensureImage(w, h);
    const scale = Math.max(Math.abs(min), Math.abs(max)) || 1;
    const px = this.pixels;
    const lut = this.divLut;
    const span = max - min;
    for (let i = 0; i < w * h; i++) {
      const v = min + (plane[i] / 255) * span;
      px[i] = lut[Math.round(((v / scale) + 1) * 127.5)];
    }
    this.gctx.putImageData(this.image, 0, 0);
  }

  repaint() {
    if (this.neuron) this.showNeuron(this.neuron);
    else if (this.lastFrame) this.paintFrame(this.lastFrame);
  }

  clearFrame() {
    this.lastFrame = null;
    this.gctx.clearRect(0, 0, this.grid.width, this.grid.height);
  }

  /** Screen (client) coordinates to data coordinates. */
  toData(clientX, clientY) {
    const r = this.points.getBoundingClientRect();
    const [x0, x1, y0, y1] = this.domain;
    const fx = (clientX - r.left) / r.width;
    const fy = (clientY - r.top) / r.height;
    return [x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)];
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const r = this.plot.getBoundingClientRect();
    const w = Math.max(1, Math.round(r.width * dpr));
    const h = Math.max(1, Math.round(r.height * dpr));
    if (this.points.width !== w || this.points.height !== h) {
      this.points.width = w;
      this.points.height = h;
    }
    const ar = this.axes.getBoundingClientRect();
    const aw = Math.max(1, Math.round(ar.width * dpr));
    const ah = Math.max(1, Math.round(ar.height * dpr));
    if (this.axes.width !== aw || this.axes.height !== ah) {
      this.axes.width = aw;
      this.axes.height = ah;
    }
    this.drawPoints();
    this.drawAxes();
  }

  drawPoints() {
    const ctx = this.pctx;
    const W = this.points.width;
    const H = this.points.height;
    ctx.clearRect(0, 0, W, H);
    const { points, labels, split } = this.data;
    if (!points || !points.length) return;
    const [x0, x1, y0, y1] = this.domain;
    const dpr = window.devicePixelRatio || 1;
    const cssW = W / dpr;
    const radius = Math.max(2.5, Math.min(6, cssW / 110)) * dpr;
    ctx.lineWidth = Math.max(1, radius * 0.35);
    // Group by class and style so each group is one path (fast for thousands of points).
    const groups = new Map();
    for (let i = 0; i < points.length; i++) {
      const val = split && split[i] === 'validation';
      if (val && !this.showValidation) continue;
      const lab = labels[i];
      const cls = Number.isInteger(lab) ? lab : (lab < 0 ? 0 : 1); // regression: by sign
      const key = cls * 2 + (val ? 1 : 0);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(i);
    }
    for (const [key, idx] of groups) {
      const label = key >> 1;
      const val = key & 1;
      ctx.beginPath();
      for (const i of idx) {
        const px = ((points[i][0] - x0) / (x1 - x0)) * W;
        const py = ((y1 - points[i][1]) / (y1 - y0)) * H;
        ctx.moveTo(px + radius, py);
        ctx.arc(px, py, radius, 0, Math.PI * 2);
      }
      const color = classCss(label);
      if (val) {
        ctx.fillStyle = 'rgba(255,255,255,0.85)';
        ctx.fill();
        ctx.strokeStyle = color;
        ctx.lineWidth = Math.max(1.5, radius * 0.45);
        ctx.stroke();
      } else {
        ctx.fillStyle = color;
        ctx.fill();
        ctx.strokeStyle = 'rgba(255,255,255,0.9)';
        ctx.lineWidth = Math.max(1, radius * 0.3);
        ctx.stroke();
      }
    }
  }

  drawAxes() {
    const ctx = this.actx;
    const W = this.axes.width;
    const H = this.axes.height;
    ctx.clearRect(0, 0, W, H);
    const dpr = window.devicePixelRatio || 1;
    const ar = this.axes.getBoundingClientRect();
    const pr = this.plot.getBoundingClientRect();
    if (!pr.width) return;
    const ox = (pr.left - ar.left) * dpr;
    const oy = (pr.top - ar.top) * dpr;
    const pw = pr.width * dpr;
    const ph = pr.height * dpr;
    const [x0, x1, y0, y1] = this.domain;
    const style = getComputedStyle(this.axes);
    const fontPx = parseFloat(style.fontSize) || 12;
    ctx.font = `${fontPx * dpr}px ${style.fontFamily}`;
    ctx.fillStyle = style.color;
    ctx.strokeStyle = style.color;
    ctx.lineWidth = dpr;
    ctx.strokeRect(ox - 0.5 * dpr, oy - 0.5 * dpr, pw + dpr, ph + dpr);
    const tick = 5 * dpr;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const v of niceTicks(x0, x1, 6)) {
      const x = ox + ((v - x0) / (x1 - x0)) * pw;
      ctx.beginPath(); ctx.moveTo(x, oy + ph); ctx.lineTo(x, oy + ph + tick); ctx.stroke();
      ctx.fillText(fmtTick(v), x, oy + ph + tick + 2 * dpr);
    }
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of niceTicks(y0, y1, 6)) {
      const y = oy + ((y1 - v) / (y1 - y0)) * ph;
      ctx.beginPath(); ctx.moveTo(ox - tick, y); ctx.lineTo(ox, y); ctx.stroke();
      ctx.fillText(fmtTick(v), ox - tick - 3 * dpr, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText('x₁', ox + pw / 2, H - dpr);
    ctx.save();
    ctx.translate(fontPx * dpr, oy + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText('x₂', 0, 0);
    ctx.restore();
  }

  /** A PNG-ready canvas: the boundary scaled up smoothly with the points on top. */
  composite(size = 800) {
    const c = document.createElement('canvas');
    c.width = size;
    c.height = size;
    const ctx = c.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, size, size);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.grid, 0, 0, size, size);
    ctx.drawImage(this.points, 0, 0, size, size);
    return c;
  }
}

export function niceTicks(lo, hi, count) {
  const span = hi - lo;
  if (!(span > 0)) return [];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

function fmtTick(v) {
  return formatNumber(v, { maximumFractionDigits: 2 });
}
