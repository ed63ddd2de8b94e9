// The page's one entry: builds the panels and instruments, loads the server's options, opens
// the live socket and wires them together. Everything that touches the DOM starts in start(),
// run once the document is ready; the modules themselves do nothing at import time.

import { app, isOwner, send, setNeuronDetail, subscribe } from './app.js';
import { configure, draftNetwork, editLayers } from './edits.js';
import { banner, notify, tooltip } from './feedback.js';
import { LiveSocket } from './socket.js';
import { UI_DEFAULTS, decodeHash } from './state.js';
import { Controls } from './controls.js';
import { Boundary } from './boundary.js';
import { NetworkDiagram } from './network.js';
import { Chart } from './chart.js';
import { CLASS_COLORS, rgb } from './colors.js';
import { t, setLanguage, detectLanguage, translatePage, language, fmt, fmtLoss, fmtPercent, formatInt } from './i18n.js';
import { Instruments } from './instruments.js';
import { onMessage, onStatus, onClose } from './live.js';
import { onFrame, flushUnits, counters } from './render.js';
import { measureHeader, relayout, setUi } from './view.js';
import { wireButtons, openWatchShare } from './buttons.js';
import { runIdFromPath, wireSave } from './runs.js';
import { lessons } from './lessons.js';
import { Classroom } from './classroom.js';
import { classCodeFromPath, startStudent } from './student.js';

const $ = (id) => document.getElementById(id);

const WEIGHTS_INTERVAL = 500; // ms: the diagram's weights, a few times a second while training
const UNITS_FLUSH_INTERVAL = 100; // ms

async function loadOptions() {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetch('/api/options');
      if (r.ok) return await r.json();
    } catch { /* server not up yet */ }
    banner(t('banner.connecting'));
    await new Promise((res) => setTimeout(res, Math.min(5000, 300 * 2 ** attempt)));
  }
}

function makeCharts() {
  const [c0, c1] = CLASS_COLORS;
  // The score table's train / validation headings double as the charts' legend.
  $('scores').style.setProperty('--train-color', rgb(c1));
  $('scores').style.setProperty('--validation-color', rgb(c0));
  const series = () => [{ name: t('chart.train'), color: rgb(c1) }, { name: t('chart.validation'), color: rgb(c0), dashed: true }];
  const xLabel = () => t('chart.step');
  app.lossChart = new Chart($('chart-loss'), {
    series: series(), format: fmtLoss, tick: (v) => fmt(v, 2), xTick: (v) => formatInt(v), yMin: 0, log: app.ui.logScale, xLabel,
  });
  app.accChart = new Chart($('chart-acc'), {
    series: series(), format: (v) => fmtPercent(v), tick: (v) => fmtPercent(v, 0), xTick: (v) => formatInt(v), yMin: 0, yMax: 1, xLabel,
  });
}

function makePanels() {
  app.boundary = new Boundary({ grid: $('grid'), points: $('points'), axes: $('axes'), plot: $('plot') });
  makeCharts();
  app.diagram = new NetworkDiagram($('diagram'), {
    label: t,
    tooltip,
    onHover: (plane) => {
      app.hovered = plane;
      app.boundary.showNeuron(plane);
      setNeuronDetail(!!(plane && plane.isUnit));
    },
    onAddUnit: (l) => editLayers((h) => { h[l] += 1; }),
    onRemoveUnit: (l) => editLayers((h) => { if (h[l] > 1) h[l] -= 1; }),
    onLinkClick: (link) => app.instruments.editWeight(link),
    onActivation: (l, name) => editLayers((h, acts) => { acts[l] = name; }),
  });
  app.controls = new Controls(
    { picker: $('dataset-picker'), data: $('data-controls'), view: $('view-controls'), network: $('network-controls'), optimizer: $('optimizer-controls'), speed: $('speed-control'), palette: $('palette') },
    { configure, ui: setUi, t, network: draftNetwork },
  );
  app.instruments = new Instruments({
    send,
    configure,
    resubscribe: () => { if (isOwner() && app.socket) subscribe(); },
    t,
    notify,
    config: () => app.config,
    data: () => app.data,
    dataCustom: () => app.dataCustom,
    options: () => app.options,
    isOwner,
    weightsChanged: () => { app.weightsWanted = true; },
  });
  app.counters = counters;
}

/** The page-only settings and the pace, once the options say what the defaults are. */
function applyOptions(watch) {
  // A URL without a speed starts at the server's page pace, one a class can follow; the
  // server's own session default (for scripts) stays "max", so hello sends it when needed.
  if (!watch && app.hashConfig.speed === undefined) app.hashConfig.speed = app.options.default_speed;
  app.controls.build(app.options, app.ui);
  app.instruments.build(app.options);
  if (app.ui.large) document.documentElement.classList.add('large');
  $('btn-large').setAttribute('aria-pressed', String(!!app.ui.large));
  $('log-scale').checked = !!app.ui.logScale;
  app.boundary.setShowValidation(app.ui.showValidation);
  app.boundary.setDiscrete(app.ui.discretize);
  if (watch) { app.controls.setReadOnly(true); app.instruments.setReadOnly(true); }
}

/** The socket's URL for a resume id (null: a new session), for an owner or a watch link. */
function ownerUrl(watch) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return (resume) => (watch ? `${proto}//${location.host}/ws/watch/${encodeURIComponent(watch)}`
    : `${proto}//${location.host}/ws${resume ? `?session=${encodeURIComponent(resume)}` : ''}`);
}

function connect(urlFor, watch, resumeId = null) {
  app.socket = new LiveSocket({
    url: urlFor,
    onMessage,
    onFrame,
    onStatus,
    onClose: (ev) => onClose(ev, !!watch),
  });
  if (resumeId) app.socket.sessionId = resumeId; // a student's reload: the same session back
  app.socket.connect();
  setInterval(flushUnits, UNITS_FLUSH_INTERVAL);
  setInterval(() => {
    if (!app.socket.open || app.watcherModelDenied) return;
    if (app.running || app.weightsWanted) {
      app.weightsWanted = false;
      app.socket.send({ type: 'get_model' });
    }
  }, WEIGHTS_INTERVAL);
}

/** Saved runs, lessons and the class page (the teacher's), wired once. */
function wireClassroom(watch) {
  wireSave(openWatchShare);
  app.lessons = lessons;
  lessons.wire();
  app.classroom = new Classroom();
  app.classroom.wire();
  if (watch || app.student) {
    // A watcher cannot save or steer; a student has no class of their own.
    for (const id of ['btn-class', 'btn-lesson']) $(id).hidden = true;
    if (watch) $('btn-save').hidden = true;
  }
  const params = new URLSearchParams(location.search);
  if (!watch && !app.student && params.has('teacher')) app.classroom.open();
  if (!watch && params.has('lesson')) lessons.open();
}

async function start() {
  const watch = new URLSearchParams(location.search).get('watch');
  app.runId = watch ? null : runIdFromPath();
  const classCode = watch ? null : classCodeFromPath();
  const fromHash = decodeHash(location.hash);
  app.hashConfig = fromHash.config;
  app.ui = { ...UI_DEFAULTS, ...fromHash.ui };
  setLanguage(app.ui.lang || detectLanguage(navigator.language));
  translatePage(document);
  $('btn-lang').textContent = language() === 'fr' ? 'EN' : 'FR';
  if (app.ui.large) document.documentElement.classList.add('large');
  if (watch) {
    app.role = 'watcher';
    document.body.classList.add('watcher');
    $('watch-note').hidden = false;
  }
  measureHeader();
  makePanels();
  app.options = await loadOptions();
  applyOptions(watch);
  wireButtons();
  if (classCode) app.student = { code: classCode, name: null };
  wireClassroom(watch);
  new ResizeObserver(() => relayout()).observe($('plot'));
  new ResizeObserver(() => measureHeader()).observe($('topbar'));
  new ResizeObserver(() => measureHeader()).observe($('lesson-panel'));
  app.boundary.resize();
  window.__mlpg = app;
  if (classCode) startStudent(classCode, (urlFor, resume) => connect(urlFor, null, resume));
  else connect(ownerUrl(watch), watch);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
