// Frames and metrics arrive as separate messages; keep only the newest frame of each kind and
// draw them together in one animation frame, so the browser renders (and commits) once per
// batch. The counters under the plot are read, not watched: ten updates a second are plenty.

import { app } from './app.js';
import { setText } from './feedback.js';
import { fmt, fmtLoss, fmtPercent, formatInt } from './i18n.js';
import { setRunning } from './view.js';

const pending = { grid: null, units: null, metrics: [] };
let renderQueued = false;

const COUNTER_INTERVAL = 100; // ms
const UNITS_INTERVAL = 80; // ms: nobody reads 16 small pictures faster than ~12 a second
const METRICS_BACKLOG = 120; // a hidden tab gets no animation frames: bound what waits

export function queueMetrics(msg) {
  if (pending.metrics.push(msg) > METRICS_BACKLOG) pending.metrics.splice(0, METRICS_BACKLOG / 2);
  queueRender();
}

export function onFrame(frame) {
  if (frame.kind === 1 || frame.kind === 4) pending.grid = frame;
  else if (frame.kind === 2) pending.units = frame;
  else if (frame.kind === 3) { app.instruments.onUncertainty(frame); return; }
  else return;
  queueRender();
}

/** A throttled kind-2 frame still gets drawn once frames stop coming. */
export function flushUnits() {
  if (pending.units) queueRender();
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(renderPending);
}

function renderPending() {
  renderQueued = false;
  if (pending.metrics.length) {
    const list = pending.metrics;
    pending.metrics = [];
    list.forEach(onMetrics);
  }
  if (pending.grid) {
    app.boundary.paintFrame(pending.grid);
    app.lastFrameStep = pending.grid.step;
    pending.grid = null;
  }
  const now = performance.now();
  if (pending.units && (now - (app.lastUnitsAt || 0) >= UNITS_INTERVAL || pending.units.channels !== app.lastUnitsChannels)) {
    app.lastUnitsAt = now;
    app.lastUnitsChannels = pending.units.channels;
    app.diagram.setUnitFrame(pending.units);
    if (app.hovered && app.hovered.isUnit) app.boundary.showNeuron(app.hovered);
    pending.units = null;
  }
}

function onMetrics(m) {
  if (m.step < app.lastStep) { app.lossChart.clear(); app.accChart.clear(); }
  app.lastStep = m.step;
  app.lastMetrics = m;
  app.instruments?.onMetrics(m);
  app.lossChart.push(m.step, [m.train_loss, m.validation_loss]);
  app.accChart.push(m.step, [m.train_accuracy, m.validation_accuracy]);
  if (m.running !== undefined && m.running !== app.running) setRunning(m.running);
  counters.request();
}

export const counters = {
  at: 0,
  timer: 0,
  request() {
    const wait = COUNTER_INTERVAL - (performance.now() - this.at);
    if (!app.running || wait <= 0) this.show();
    else if (!this.timer) this.timer = setTimeout(() => this.show(), wait);
  },
  show() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.at = performance.now();
    const m = app.lastMetrics;
    if (!m) return;
    // Step and epoch change many times a second: no grouping, so their width stays steady.
    setText('m-step', formatInt(m.step, false));
    setText('m-epoch', formatInt(m.epoch ?? 0, false));
    setText('m-train-loss', fmtLoss(m.train_loss));
    setText('m-val-loss', fmtLoss(m.validation_loss));
    setText('m-train-acc', fmtPercent(m.train_accuracy));
    setText('m-val-acc', fmtPercent(m.validation_accuracy));
    setText('m-lr', fmt(m.learning_rate, 3));
    setText('m-sps', formatInt(m.steps_per_second));
  },
};
