// A small line chart on a canvas. Long runs stay smooth: each series keeps at most MAX points;
// when full, it halves itself (pairwise means) and accepts every 2nd, 4th... sample, so memory
// and redraw cost are bounded however long training runs. Redraws happen once per animation
// frame at most, and only when something changed.

import { niceTicks } from './boundary.js';

const MAX = 600;

class Series {
  constructor(name, color, dashed = false) {
    this.name = name;
    this.color = color;
    this.dashed = dashed;
    this.clear();
  }

  clear() {
    this.xs = new Float64Array(MAX);
    this.ys = new Float64Array(MAX);
    this.n = 0;
    this.stride = 1;
    this.pending = 0; // samples seen since the last kept one
    this.accX = 0;
    this.accY = 0;
  }

  push(x, y) {
    if (y == null || !Number.isFinite(y)) return;
    this.accX += x;
    this.accY += y;
    this.pending += 1;
    if (this.pending < this.stride) return;
    if (this.n === MAX) this.halve();
    this.xs[this.n] = x;
    this.ys[this.n] = this.accY / this.pending;
    this.n += 1;
    this.pending = 0;
    this.accX = 0;
    this.accY = 0;
  }

  halve() {
    const h = MAX >> 1;
    for (let i = 0; i < h; i++) {
      this.xs[i] = this.xs[2 * i + 1];
      this.ys[i] = (this.ys[2 * i] + this.ys[2 * i + 1]) / 2;
    }
    this.n = h;
    this.stride *= 2;
  }
}

export class Chart {
  /**
   * @param {HTMLElement} host  element to fill with a canvas and a hover readout
   * @param {object} opts {series: [{name, color, dashed}], format(y), tick(y), xTick(x), yMin,
   *   yMax, log}: format prints a value in the readout, tick an axis label (the page's
   *   language decides both)
   */
  constructor(host, opts) {
    this.host = host;
    this.opts = opts;
    this.canvas = document.createElement('canvas');
    this.readout = document.createElement('div');
    this.readout.className = 'chart-readout';
    host.append(this.canvas, this.readout);
    this.ctx = this.canvas.getContext('2d');
    this.series = opts.series.map((s) => new Series(s.name, s.color, s.dashed));
    this.log = !!opts.log;
    this.dirty = true;
    this.hoverX = null;
    this.raf = 0;
    this.timer = 0;
    this.canvas.addEventListener('pointermove', (e) => this.hover(e));
    this.canvas.addEventListener('pointerleave', () => { this.hoverX = null; this.readout.textContent = ''; this.request(); });
  }

  /** Read the canvas size and the host's font and colour (call after a resize). */
  xTick(x) {
    return this.opts.xTick ? this.opts.xTick(x) : String(Math.round(x));
  }

  measure() {
    const r = this.canvas.getBoundingClientRect();
    const cs = getComputedStyle(this.host);
    this.measured = {
      width: r.width,
      height: r.height,
      style: { fontSize: cs.fontSize, fontFamily: cs.fontFamily, color: cs.color },
    };
    this.request();
  }

  setLabels(names) {
    names.forEach((n, i) => { this.series[i].name = n; });
    this.request();
  }

  setLog(v) {
    this.log = !!v;
    this.request();
  }

  push(x, values) {
    values.forEach((v, i) => this.series[i].push(x, v));
    this.request();
  }

  clear() {
    this.series.forEach((s) => s.clear());
    this.request();
  }

  request() {
    this.dirty = true;
    if (this.raf || this.timer) return;
    // At most ~10 redraws a second: a chart needs no more, and frames stay cheap.
    const wait = Math.max(0, 100 - (performance.now() - (this.lastDraw || 0)));
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.raf = requestAnimationFrame(() => { this.raf = 0; this.lastDraw = performance.now(); this.draw(); });
    }, wait);
  }

  pointCount() {
    return this.series.reduce((a, s) => a + s.n, 0);
  }

  bounds() {
    let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
    for (const s of this.series) {
      for (let i = 0; i < s.n; i++) {
        const y = this.ty(s.ys[i]);
        if (!Number.isFinite(y)) continue;
        if (s.xs[i] < xmin) xmin = s.xs[i];
        if (s.xs[i] > xmax) xmax = s.xs[i];
        if (y < ymin) ymin = y;
        if (y > ymax) ymax = y;
      }
    }
    if (this.opts.yMin != null && !this.log) ymin = Math.min(ymin, this.opts.yMin);
    if (this.opts.yMax != null && !this.log) ymax = Math.max(ymax, this.opts.yMax);
    if (!(ymax > ymin)) { ymin -= 0.5; ymax += 0.5; }
    if (!(xmax > xmin)) { xmax = xmin + 1; }
    return { xmin, xmax, ymin, ymax };
  }

  ty(y) {
    return this.log ? Math.log10(Math.max(y, 1e-8)) : y;
  }

  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    const dpr = window.devicePixelRatio || 1;
    // Size and style are measured only after a resize or a font change (measure()): reading
    // them on every redraw would force a style and layout pass each time.
    if (!this.measured) this.measure();
    const { width: cssW, height: cssH, style } = this.measured;
    const W = Math.max(1, Math.round(cssW * dpr));
    const H = Math.max(1, Math.round(cssH * dpr));
    if (this.canvas.width !== W || this.canvas.height !== H) {
      this.canvas.width = W;
      this.canvas.height = H;
    }
    const ctx = this.ctx;
    ctx.clearRect(0, 0, W, H);
    const font = parseFloat(style.fontSize) || 12;
    ctx.font = `${font * 0.85 * dpr}px ${style.fontFamily}`;
    const pad = { l: font * 3.6 * dpr, r: 8 * dpr, t: font * 0.7 * dpr, b: font * 1.4 * dpr };
    const pw = W - pad.l - pad.r;
    const ph = H - pad.t - pad.b;
    if (pw <= 0 || ph <= 0) return;
    this.layout = { pad, pw, ph, dpr };
    const b = this.bounds();
    if (!Number.isFinite(b.xmin)) {
      this.drawFrame(ctx, pad, pw, ph, style.color);
      return;
    }
    this.b = b;
    const X = (x) => pad.l + ((x - b.xmin) / (b.xmax - b.xmin)) * pw;
    const Y = (y) => pad.t + (1 - (this.ty(y) - b.ymin) / (b.ymax - b.ymin)) * ph;
    this.drawFrame(ctx, pad, pw, ph, style.color);
    this.drawTicks(ctx, b, style.color);
    ctx.lineWidth = 2 * dpr;
    ctx.lineJoin = 'round';
    for (const s of this.series) {
      if (!s.n) continue;
      ctx.strokeStyle = s.color;
      ctx.setLineDash(s.dashed ? [6 * dpr, 4 * dpr] : []);
      ctx.beginPath();
      for (let i = 0; i < s.n; i++) {
        const x = X(s.xs[i]);
        const y = Y(s.ys[i]);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
    if (this.hoverX != null) {
      const x = pad.l + this.hoverX * pw;
      ctx.strokeStyle = 'rgba(0,0,0,0.35)';
      ctx.lineWidth = dpr;
      ctx.beginPath(); ctx.moveTo(x, pad.t); ctx.lineTo(x, pad.t + ph); ctx.stroke();
      this.updateReadout();
    }
  }

  /** y ticks at round values (powers of ten on a log scale) with light grid lines; x ends. */
  drawTicks(ctx, b, color) {
    const { pad, pw, ph, dpr } = this.layout;
    ctx.fillStyle = color;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const ticks = this.log
      ? niceTicks(Math.floor(b.ymin), Math.ceil(b.ymax), 4).filter((v) => Number.isInteger(v) && v >= b.ymin - 1e-9 && v <= b.ymax + 1e-9)
      : niceTicks(b.ymin, b.ymax, 4);
    for (const yv of ticks) {
      const y = pad.t + (1 - (yv - b.ymin) / (b.ymax - b.ymin)) * ph;
      ctx.globalAlpha = 0.12;
      ctx.strokeStyle = color;
      ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(pad.l + pw, y); ctx.stroke();
      ctx.globalAlpha = 1;
      ctx.fillText(this.opts.tick(this.log ? 10 ** yv : yv), pad.l - 4 * dpr, y);
    }
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.fillText(this.xTick(b.xmin), pad.l, pad.t + ph + 2 * dpr);
    ctx.textAlign = 'right';
    ctx.fillText(this.xTick(b.xmax), pad.l + pw, pad.t + ph + 2 * dpr);
  }

  drawFrame(ctx, pad, pw, ph, color) {
    ctx.strokeStyle = color;
    ctx.globalAlpha = 0.3;
    ctx.lineWidth = 1;
    ctx.strokeRect(pad.l, pad.t, pw, ph);
    ctx.globalAlpha = 1;
  }

  hover(e) {
    if (!this.layout || !this.b) return;
    const r = this.canvas.getBoundingClientRect();
    const { pad, pw, dpr } = this.layout;
    const f = ((e.clientX - r.left) * dpr - pad.l) / pw;
    this.hoverX = Math.max(0, Math.min(1, f));
    this.request();
  }

  updateReadout() {
    // Built as DOM nodes, not innerHTML: the page's CSP (style-src 'self') blocks style
    // attributes in markup, while a colour set through the CSSOM is allowed.
    const b = this.b;
    const x = b.xmin + this.hoverX * (b.xmax - b.xmin);
    const nodes = [];
    let shownX = null;
    for (const s of this.series) {
      if (!s.n) continue;
      let best = 0;
      for (let i = 1; i < s.n; i++) if (Math.abs(s.xs[i] - x) < Math.abs(s.xs[best] - x)) best = i;
      shownX = shownX ?? s.xs[best];
      const swatch = document.createElement('span');
      swatch.style.color = s.color;
      swatch.textContent = '■';
      nodes.push(' · ', swatch, ` ${s.name} ${this.opts.format(s.ys[best])}`);
    }
    if (shownX == null) {
      this.readout.replaceChildren();
      return;
    }
    nodes[0] = `${this.opts.xLabel ? this.opts.xLabel() : 'step'} ${this.xTick(shownX)} · `;
    this.readout.replaceChildren(...nodes);
  }
}
