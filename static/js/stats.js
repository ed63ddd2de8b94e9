// Layer statistics (live `stats` messages while the panel is open): per hidden layer a small
// histogram of its activations, the gradient norm of its incoming weights and the fractions of
// saturated and dead units. The preset rebuilds the lecture's failing example (a deep tanh net
// with a small Gaussian init, whose activations and gradients shrink layer after layer); the
// init selector next to it switches to Xavier to watch the same net recover.

import { el } from './dom.js';
import { fmt, fmtPercent } from './i18n.js';

const PRESET_LAYERS = 10;
const PRESET_UNITS = 64;

export class StatsPanel {
  constructor(host, ctx) {
    this.host = host;
    this.ctx = ctx;
    this.t = ctx.t;
    this.rows = [];
    this.last = null;
    this.messages = 0;
  }

  build(options) {
    const sel = document.getElementById('stats-init');
    sel.textContent = '';
    for (const name of options.initializers || []) sel.append(el('option', { value: name }, name));
    sel.addEventListener('change', () => this.ctx.configure({ network: { init: sel.value } }));
    this.initSelect = sel;
    const layers = Math.min(PRESET_LAYERS, options.limits.max_hidden_layers);
    const units = Math.min(PRESET_UNITS, options.limits.max_units);
    document.getElementById('btn-preset-deep').addEventListener('click', () => {
      this.ctx.configure({
        network: {
          hidden_layers: Array(layers).fill(units),
          activation: Array(layers).fill('tanh'),
          init: 'gaussian',
        },
      });
      document.getElementById('inst-stats').open = true;
    });
    this.host.append(el('p', { class: 'muted' }, this.t('st.waiting')));
  }

  onConfig(config) {
    const init = config?.network?.init;
    if (this.initSelect && init) this.initSelect.value = init;
  }

  /** Build one row per hidden layer (only when the layer count changes). */
  ensureRows(n) {
    if (this.rows.length === n) return;
    this.host.textContent = '';
    this.rows = [];
    for (let l = 0; l < n; l++) {
      const canvas = el('canvas', { class: 'stats-hist', testid: 'stats-hist', width: 160, height: 48 });
      const title = el('div', { class: 'stats-title' });
      const nums = el('div', { class: 'stats-nums' });
      const row = el('div', { class: 'stats-row', testid: 'stats-layer' }, title, canvas, nums);
      this.host.append(row);
      this.rows.push({ row, canvas, title, nums });
    }
  }

  onStats(msg) {
    this.last = msg;
    this.messages += 1;
    const layers = msg.layers || [];
    this.ensureRows(layers.length);
    // One horizontal axis for every layer (tanh: [-1, 1], sigmoid: [0, 1], else the widest
    // range), so shrinking activations show as histograms collapsing towards 0 layer by layer.
    let lo = Infinity, hi = -Infinity;
    for (const s of layers) {
      const e = s.histogram?.edges || [];
      if (e.length) { lo = Math.min(lo, e[0]); hi = Math.max(hi, e[e.length - 1]); }
    }
    if (layers.length && layers.every((s) => s.activation === 'tanh')) { lo = -1; hi = 1; }
    if (layers.length && layers.every((s) => s.activation === 'sigmoid')) { lo = 0; hi = 1; }
    this.axis = Number.isFinite(lo) && hi > lo ? [lo, hi] : [-1, 1];
    layers.forEach((s, l) => this.paintRow(this.rows[l], s));
  }

  paintRow(r, s) {
    r.title.textContent = `${this.t('st.layer', { n: s.layer + 1 })} · ${s.activation} · ${s.units}`;
    const sat = fmtPercent(s.saturated, 0);
    const dead = fmtPercent(s.dead, 0);
    r.nums.textContent = '';
    const item = (key, value, warn) => el('span', { class: warn ? 'stat warn' : 'stat' }, el('b', {}, value), ' ', this.t(key));
    r.nums.append(
      item('st.std', fmt(s.std, 3), s.std != null && s.std < 0.05),
      item('st.grad', fmt(s.grad_norm, 3), s.grad_norm != null && s.grad_norm < 1e-4),
      item('st.saturated', sat, s.saturated > 0.3),
      item('st.dead', dead, s.dead > 0.3),
    );
    const c = r.canvas;
    const ctx = c.getContext('2d');
    ctx.clearRect(0, 0, c.width, c.height);
    const counts = (s.histogram?.counts || []).map((v) => v || 0);
    const edges = s.histogram?.edges || [];
    if (!counts.length) return;
    const max = Math.max(...counts, 1);
    const W = c.width;
    const H = c.height - 10;
    const [lo, hi] = this.axis;
    const X = (v) => ((v - lo) / (hi - lo)) * W;
    ctx.fillStyle = 'rgba(8, 119, 189, 0.12)';
    ctx.fillRect(0, 0, W, H);
    ctx.fillStyle = '#0877bd';
    counts.forEach((v, i) => {
      const h = (v / max) * H;
      const a = X(edges[i] ?? lo);
      const b = X(edges[i + 1] ?? hi);
      const w = Math.max(1.5, b - a - 0.5);
      ctx.fillRect(Math.min(a, W - w), H - h, w, h);
    });
    ctx.fillStyle = '#5b6675';
    ctx.font = '9px system-ui, sans-serif';
    ctx.textBaseline = 'bottom';
    ctx.textAlign = 'left';
    ctx.fillText(fmt(lo, 2), 0, c.height);
    ctx.textAlign = 'right';
    ctx.fillText(fmt(hi, 2), W, c.height);
    if (lo < 0 && hi > 0) {
      ctx.textAlign = 'center';
      ctx.fillText('0', X(0), c.height);
    }
  }

  retranslate() {
    if (this.last) { this.rows = []; this.onStats(this.last); }
  }
}
