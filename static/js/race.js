// The optimiser race: the current configuration trained by 2-6 optimisers over POST /race, in
// lockstep from bit-identical weights. One loss chart with a labelled line per optimiser, and
// each run's final decision boundary as a small picture.

import { el } from './dom.js';
import { fmt, formatInt } from './i18n.js';
import { Chart } from './chart.js';
import { decisionLUT, divergingLUT } from './colors.js';

/** Line colours of the runs (distinct from each other, readable on white). */
export const RACE_COLORS = ['#0877bd', '#e8710a', '#1a9e4b', '#c2185b', '#6a3fb5', '#6d4c2f'];
const DEFAULT_PICKS = ['sgd', 'momentum', 'adam'];
const GRID = 40;
// A race is a quick comparison: longer runs belong to the live session (the server's work cap
// may refuse less).
const RACE_MAX_STEPS = 20000;

/** The /race body for a live config: its data, network and training settings. */
export function raceBody(config, data, custom, optimizers, steps) {
  const body = {
    validation_split: config.validation_split,
    network: config.network,
    loss: config.loss,
    regularization: config.regularization,
    batch_size: config.batch_size,
    shuffle: config.shuffle,
    seed: config.seed,
    steps,
    grid: { resolution: GRID },
    optimizers,
  };
  if (config.schedule) body.schedule = config.schedule;
  if (custom && data && data.points?.length) body.data = { points: data.points, labels: data.labels, classes: data.classes };
  else body.dataset = config.dataset;
  return body;
}

export class RacePanel {
  constructor(ctx) {
    this.ctx = ctx;
    this.t = ctx.t;
    this.lines = [];
    this.last = null;
  }

  build(options) {
    this.maxRuns = options.limits.max_race_optimizers;
    this.maxSteps = options.limits.max_steps;
    const host = document.getElementById('race-picks');
    host.textContent = '';
    this.picks = {};
    for (const [name, defaults] of Object.entries(options.optimizers || {})) {
      const box = el('input', { type: 'checkbox', testid: `race-pick-${name}` });
      box.checked = DEFAULT_PICKS.includes(name);
      const lr = el('input', { type: 'number', step: 'any', min: 0, testid: `race-lr-${name}`, inputmode: 'decimal' });
      lr.value = String(defaults.learning_rate);
      box.addEventListener('change', () => this.checkCount());
      host.append(el('label', { class: 'race-pick' }, box, el('span', { class: 'race-name' }, name), lr));
      this.picks[name] = { box, lr };
    }
    this.chart = new Chart(document.getElementById('race-chart'), {
      series: [], format: fmt, tick: (v) => fmt(v, 2), xTick: (v) => formatInt(v), yMin: 0, xLabel: () => this.t('chart.step'),
    });
    document.getElementById('btn-race').addEventListener('click', () => this.run());
    document.getElementById('inst-race').addEventListener('toggle', (e) => {
      this.chart.measure();
      if (e.target.open && !this.seeded) this.seedCurrent();
    });
    this.checkCount();
  }

  onConfig() { /* the race reads the config when it runs */ }

  /** On first opening, enter the session's own optimiser and rate, to race against it. */
  seedCurrent() {
    const opt = this.ctx.config()?.optimizer;
    const pick = opt && this.picks[opt.name];
    if (!pick) return;
    this.seeded = true;
    if (opt.learning_rate != null) pick.lr.value = String(opt.learning_rate);
    if (!pick.box.checked && this.chosen().length < this.maxRuns) pick.box.checked = true;
    this.checkCount();
  }

  chosen() {
    return Object.entries(this.picks).filter(([, p]) => p.box.checked).map(([name, p]) => {
      const lr = parseFloat(p.lr.value);
      return Number.isFinite(lr) && lr > 0 ? { name, learning_rate: lr } : { name };
    });
  }

  checkCount() {
    const n = this.chosen().length;
    const ok = n >= 2 && n <= this.maxRuns;
    document.getElementById('btn-race').disabled = !ok || this.busy;
    if (!ok) this.status(this.t('race.pick', { max: this.maxRuns }));
    else if (!this.busy && !this.last) this.status('');
    return ok;
  }

  status(text) {
    document.getElementById('race-status').textContent = text;
  }

  async run() {
    const optimizers = this.chosen();
    if (!this.checkCount()) return;
    const config = this.ctx.config();
    const steps = Math.max(10, Math.min(RACE_MAX_STEPS, this.maxSteps, parseInt(document.getElementById('race-steps').value, 10) || 500));
    const body = raceBody(config, this.ctx.data(), this.ctx.dataCustom(), optimizers, steps);
    this.busy = true;
    document.getElementById('btn-race').disabled = true;
    this.status(this.t('race.running', { n: optimizers.length }));
    try {
      const r = await fetch('/race', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const out = await r.json();
      if (!r.ok) {
        const d = Array.isArray(out.detail) ? out.detail[0] : null;
        const text = d ? this.t('err.field', { field: d.field || (d.loc || []).join('.'), message: d.msg }) : this.t('err.generic', { message: r.status });
        this.ctx.notify(text, 'error', 12000);
        this.status('');
        return;
      }
      this.show(out.runs, steps);
    } catch (e) {
      this.ctx.notify(this.t('err.generic', { message: e.message }), 'error', 8000);
      this.status('');
    } finally {
      this.busy = false;
      this.checkCount();
    }
  }

  label(opt) {
    return `${opt.name} (lr ${fmt(opt.learning_rate, 3)})`;
  }

  /** One line and one small boundary per run. */
  show(runs, steps) {
    this.last = { runs, steps };
    const chart = this.chart;
    chart.series = [];
    chart.opts.series = runs.map((run, i) => ({ name: this.label(run.optimizer), color: RACE_COLORS[i % RACE_COLORS.length] }));
    // Rebuild the chart's series for this race (names, colours), then feed each its history.
    const fresh = new Chart(document.createElement('div'), { ...chart.opts });
    chart.series = fresh.series;
    runs.forEach((run, i) => {
      const h = run.history;
      for (let k = 0; k < h.step.length; k++) chart.series[i].push(h.step[k], h.train_loss[k]);
    });
    chart.measure();
    this.lines = runs.map((run, i) => ({ name: run.optimizer.name, color: RACE_COLORS[i % RACE_COLORS.length], points: run.history.step.length }));

    const legend = document.getElementById('race-legend');
    legend.textContent = '';
    const boards = document.getElementById('race-boundaries');
    boards.textContent = '';
    runs.forEach((run, i) => {
      const color = RACE_COLORS[i % RACE_COLORS.length];
      const sw = el('span', { class: 'race-swatch' });
      sw.style.background = color;
      legend.append(el('div', { class: 'race-line', testid: 'race-line' }, sw,
        el('span', { class: 'race-label' }, this.label(run.optimizer)),
        el('span', { class: 'race-final' }, this.t('race.final', { v: fmt(run.metrics.train_loss, 3) }))));
      const canvas = el('canvas', { class: 'race-boundary', testid: 'race-boundary' });
      if (run.grid) this.paintGrid(canvas, run.grid);
      const cap = el('figcaption', {}, sw.cloneNode(), ` ${run.optimizer.name}`);
      boards.append(el('figure', { class: 'race-fig' }, canvas, cap));
    });
    this.status(this.t('race.done', { n: runs.length, steps }));
  }

  paintGrid(canvas, grid) {
    const R = grid.resolution;
    canvas.width = R;
    canvas.height = R;
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(R, R);
    const px = new Uint32Array(img.data.buffer);
    if (grid.values) {
      const lut = divergingLUT();
      grid.values.forEach((v, i) => { px[i] = lut[Math.round((Math.max(-1, Math.min(1, v)) + 1) * 127.5)]; });
    } else {
      const K = grid.probabilities[0]?.length || 2;
      const lut = decisionLUT(K, false);
      grid.probabilities.forEach((p, i) => {
        let k = 0;
        for (let j = 1; j < p.length; j++) if (p[j] > p[k]) k = j;
        px[i] = lut[((k & 7) << 8) | Math.round(255 * p[k])];
      });
    }
    ctx.putImageData(img, 0, 0);
  }

  retranslate() {
    if (this.last) this.show(this.last.runs, this.last.steps);
    else this.checkCount();
  }
}
