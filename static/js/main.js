// The page's one entry: builds the panels and instruments, loads the server's options, opens
// the live socket and wires them together. Everything that touches the DOM starts in start(),
// run once the document is ready; the modules themselves do nothing at import time.
//
// State has one writer per piece: session.js (what the server says: written by the socket's
// handlers in live.js, render.js and view.js), page.js (the page's own settings: view.js's
// setUi), and module-private state behind small functions (edits.js: drafted network and
// custom points; channel.js: socket, subscription, weights polling; render.js: the hovered
// unit; runs.js, student.js, live.js: their own). The panels are passed to the modules that
// draw into them (initView, initRender, initLive, wireButtons, ...), never looked up globally.

import { attach, currentSocket, isOwner, limits, pollWeights, send, subscribe, wantWeights } from './channel.js';
import { configure, draftNetwork, editLayers, isDataCustom } from './edits.js';
import { banner, notify, tooltip } from './feedback.js';
import { LiveSocket } from './socket.js';
import { decodeHash } from './state.js';
import { Controls } from './controls.js';
import { Boundary } from './boundary.js';
import { NetworkDiagram } from './network.js';
import { Chart } from './chart.js';
import { CLASS_COLORS, rgb } from './colors.js';
import { t, setLanguage, detectLanguage, translatePage, language, fmt, fmtLoss, fmtPercent, formatInt } from './i18n.js';
import { Instruments } from './instruments.js';
import { initLive, muteResetToast, onHello, onMessage, onStatus, onClose, requestModel } from './live.js';
import { counters, flushUnits, hover, initRender, onFrame } from './render.js';
import { initView, measureHeader, relayout, setUi } from './view.js';
import { wireButtons, openWatchShare } from './buttons.js';
import { loadedRun, runIdFromPath, wireSave } from './runs.js';
import { lessons } from './lessons.js';
import { Classroom } from './classroom.js';
import { classCodeFromPath, startStudent } from './student.js';
import { session, setOptions, setRole } from './session.js';
import { initUi, ui } from './page.js';
import { readOnly } from './store.js';

const $ = (id) => document.getElementById(id);

const UNITS_FLUSH_INTERVAL = 100; // ms
const RESET_TOAST_MUTE = 2000; // ms after a lesson step's config: its text says what changed

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
  const lossChart = new Chart($('chart-loss'), {
    series: series(), format: fmtLoss, tick: (v) => fmt(v, 2), xTick: (v) => formatInt(v), yMin: 0, log: ui.logScale, xLabel,
  });
  const accChart = new Chart($('chart-acc'), {
    series: series(), format: (v) => fmtPercent(v), tick: (v) => fmtPercent(v, 0), xTick: (v) => formatInt(v), yMin: 0, yMax: 1, xLabel,
  });
  return { lossChart, accChart };
}

/** Every panel, built once; the modules that draw into them get them passed. */
function makePanels() {
  const boundary = new Boundary({ grid: $('grid'), points: $('points'), axes: $('axes'), plot: $('plot') });
  const { lossChart, accChart } = makeCharts();
  let instruments = null;
  const diagram = new NetworkDiagram($('diagram'), {
    label: t,
    tooltip,
    onHover: hover,
    onAddUnit: (l) => editLayers((h) => { h[l] += 1; }),
    onRemoveUnit: (l) => editLayers((h) => { if (h[l] > 1) h[l] -= 1; }),
    onLinkClick: (link) => instruments.editWeight(link),
    onActivation: (l, name) => editLayers((h, acts) => { acts[l] = name; }),
  });
  const controls = new Controls(
    { picker: $('dataset-picker'), data: $('data-controls'), view: $('view-controls'), network: $('network-controls'), optimizer: $('optimizer-controls'), speed: $('speed-control'), palette: $('palette') },
    { configure, ui: setUi, t, network: draftNetwork },
  );
  instruments = new Instruments({
    send,
    configure,
    resubscribe: () => { if (isOwner()) subscribe(); },
    t,
    notify,
    config: () => session.config,
    data: () => session.data,
    dataCustom: isDataCustom,
    options: () => session.options,
    limits,
    isOwner,
    weightsChanged: wantWeights,
  });
  const classroom = new Classroom({ onConnection: () => lessons.render() });
  return { boundary, lossChart, accChart, diagram, controls, instruments, classroom, lessons, counters };
}

/** The page-only settings and the pace, once the options say what the defaults are. */
function applyOptions(panels, watch) {
  panels.controls.build(session.options, ui);
  panels.instruments.build(session.options);
  if (ui.large) document.documentElement.classList.add('large');
  $('btn-large').setAttribute('aria-pressed', String(!!ui.large));
  $('log-scale').checked = !!ui.logScale;
  panels.boundary.setShowValidation(ui.showValidation);
  panels.boundary.setDiscrete(ui.discretize);
  if (watch) { panels.controls.setReadOnly(true); panels.instruments.setReadOnly(true); }
}

/** The socket's URL for a resume id (null: a new session), for an owner or a watch link. */
function ownerUrl(watch) {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return (resume) => (watch ? `${proto}//${location.host}/ws/watch/${encodeURIComponent(watch)}`
    : `${proto}//${location.host}/ws${resume ? `?session=${encodeURIComponent(resume)}` : ''}`);
}

function connect(panels, urlFor, watch, resumeId = null) {
  const socket = new LiveSocket({
    url: urlFor,
    resumeId, // a student's reload: the same session back
    onHello,
    onMessage,
    onFrame,
    onStatus,
    onClose: (ev) => onClose(ev, !!watch),
  });
  attach(socket, () => panels.instruments.subscription());
  socket.connect();
  setInterval(flushUnits, UNITS_FLUSH_INTERVAL);
  pollWeights();
}

/** Saved runs, lessons and the class page (the teacher's), wired once. */
function wireClassroom(panels, watch, student) {
  wireSave(openWatchShare, panels.classroom);
  lessons.wire({ classroom: panels.classroom, onApply: () => muteResetToast(RESET_TOAST_MUTE) });
  panels.classroom.wire();
  if (watch || student) {
    // A watcher cannot save or steer; a student has no class of their own.
    for (const id of ['btn-class', 'btn-lesson']) $(id).hidden = true;
    if (watch) $('btn-save').hidden = true;
  }
  const params = new URLSearchParams(location.search);
  if (!watch && !student && params.has('teacher')) panels.classroom.open();
  if (!watch && params.has('lesson')) lessons.open();
}

/**
 * A read-only handle for tests, benchmarks and the console (window.__mlpg): the state's
 * current values and the panels. Nothing in the page reads it; it cannot be written.
 */
function debugHandle(panels) {
  return readOnly({
    get session() { return session; },
    get ui() { return ui; },
    get options() { return session.options; },
    get config() { return session.config; },
    get data() { return session.data; },
    get running() { return session.running; },
    get lastStep() { return session.step; },
    get status() { return session.status; },
    get dataCustom() { return isDataCustom(); },
    get loadedRun() { return loadedRun(); },
    get socket() { return currentSocket(); },
    requestModel,
    ...panels,
  });
}

async function start() {
  const watch = new URLSearchParams(location.search).get('watch');
  const runId = watch ? null : runIdFromPath();
  const classCode = watch ? null : classCodeFromPath();
  const fromHash = decodeHash(location.hash);
  initUi(fromHash.ui);
  setLanguage(ui.lang || detectLanguage(navigator.language));
  translatePage(document);
  $('btn-lang').textContent = language() === 'fr' ? 'EN' : 'FR';
  if (ui.large) document.documentElement.classList.add('large');
  if (watch) {
    setRole('watcher');
    document.body.classList.add('watcher');
    $('watch-note').hidden = false;
  }
  measureHeader();
  const panels = makePanels();
  initView(panels);
  initRender(panels);
  setOptions(await loadOptions());
  // A URL without a speed starts at the server's page pace, one a class can follow; the
  // server's own session default (for scripts) stays "max", so hello sends it when needed.
  const hashConfig = { ...fromHash.config };
  if (!watch && hashConfig.speed === undefined) hashConfig.speed = session.options.default_speed;
  initLive(panels, { runId, hashConfig });
  applyOptions(panels, watch);
  wireButtons(panels);
  wireClassroom(panels, watch, !!classCode);
  new ResizeObserver(() => relayout()).observe($('plot'));
  new ResizeObserver(() => measureHeader()).observe($('topbar'));
  new ResizeObserver(() => measureHeader()).observe($('lesson-panel'));
  panels.boundary.resize();
  window.__mlpg = debugHandle(panels);
  if (classCode) startStudent(classCode, (urlFor, resume) => connect(panels, urlFor, null, resume));
  else connect(panels, ownerUrl(watch), watch);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
