// Frames and metrics arrive as separate messages; keep only the newest frame of each kind and
// draw them together in one animation frame, so the browser renders (and commits) once per
// batch. The counters under the plot are read, not watched: ten updates a second are plenty.
// The unit hovered in the diagram is this module's: it shows full size on the plot.

import { setNeuronDetail } from './channel.js';
import { setText } from './feedback.js';
import { fmt, fmtLoss, fmtPercent, formatInt } from './i18n.js';
import { setRunning } from './view.js';
import { session, setMetrics } from './session.js';

const pending = { grid: null, units: null, metrics: [] };
let renderQueued = false;
let hovered = null; // the diagram's plane under the pointer (a unit, an input), or null
let unitsAt = 0; // when the unit thumbnails were last drawn
let unitsChannels = 0;

/** {boundary, diagram, lossChart, accChart, instruments} */
let panels = null;

export function initRender(p) {
  panels = p;
}

/** The diagram's hover: that plane full size on the plot (a unit: at the finest resolution). */
export function hover(plane) {
  hovered = plane;
  panels.boundary.showNeuron(plane);
  setNeuronDetail(!!(plane && plane.isUnit));
}

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
  else if (frame.kind === 3) { panels.instruments.onUncertainty(frame); return; }
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
    panels.boundary.paintFrame(pending.grid);
    pending.grid = null;
  }
  const now = performance.now();
  if (pending.units && (now - unitsAt >= UNITS_INTERVAL || pending.units.channels !== unitsChannels)) {
    unitsAt = now;
    unitsChannels = pending.units.channels;
    panels.diagram.setUnitFrame(pending.units);
    if (hovered && hovered.isUnit) panels.boundary.showNeuron(hovered);
    pending.units = null;
  }
}

function onMetrics(m) {
  if (m.step < session.step) { panels.lossChart.clear(); panels.accChart.clear(); }
  setMetrics(m);
  panels.instruments.onMetrics(m);
  panels.lossChart.push(m.step, [m.train_loss, m.validation_loss]);
  panels.accChart.push(m.step, [m.train_accuracy, m.validation_accuracy]);
  if (m.running !== undefined && m.running !== session.running) setRunning(m.running);
  counters.request();
}

export const counters = {
  at: 0,
  timer: 0,
  request() {
    const wait = COUNTER_INTERVAL - (performance.now() - this.at);
    if (!session.running || wait <= 0) this.show();
    else if (!this.timer) this.timer = setTimeout(() => this.show(), wait);
  },
  show() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.at = performance.now();
    const m = session.metrics;
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
