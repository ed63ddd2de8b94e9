// The page's one entry: wires the modules together. Everything that touches the DOM starts in
// start(), run once the document is ready; the modules themselves do nothing at import time.

import { LiveSocket } from './socket.js';
import { UI_DEFAULTS, decodeHash, encodeHash, merge, satisfied, getPath } from './state.js';
import { Controls } from './controls.js';
import { Boundary } from './boundary.js';
import { NetworkDiagram } from './network.js';
import { Chart } from './chart.js';
import { CLASS_COLORS, rgb } from './colors.js';
import { t, setLanguage, detectLanguage, translatePage, language } from './i18n.js';
import { parseCsv, toCsv } from './csv.js';
import { Instruments } from './instruments.js';

const $ = (id) => document.getElementById(id);

const app = {
  options: null,
  config: null,
  ui: { ...UI_DEFAULTS },
  role: 'owner',
  watchToken: null,
  running: false,
  lastStep: -1,
  data: null,
  dataCustom: false,
  pendingExport: false,
  hovered: null,
  weightsWanted: true,
  watcherModelDenied: false,
};

function fmtLoss(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  if (v >= 100) return v.toFixed(0);
  if (v >= 1) return v.toFixed(3);
  if (v >= 0.001 || v === 0) return v.toFixed(4);
  return v.toExponential(2);
}

function fmtAcc(v) {
  return v == null || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(1)} %`;
}

// ---------------------------------------------------------------- messages and banner

function notify(text, kind = 'info', ms = 6000) {
  const host = $('messages');
  const m = document.createElement('div');
  m.className = `message ${kind}`;
  m.setAttribute('data-testid', `message-${kind}`);
  m.textContent = text;
  const close = document.createElement('button');
  close.className = 'close';
  close.textContent = '×';
  close.setAttribute('aria-label', t('btn.close'));
  close.addEventListener('click', () => m.remove());
  m.append(close);
  host.append(m);
  while (host.children.length > 5) host.firstChild.remove();
  if (ms) setTimeout(() => m.remove(), ms);
  return m;
}

function banner(text) {
  const b = $('banner');
  b.hidden = !text;
  b.textContent = text || '';
}

function tooltip(text, x, y) {
  const tip = $('tooltip');
  if (!text) { tip.hidden = true; return; }
  tip.hidden = false;
  tip.textContent = text;
  tip.style.left = `${x + 14}px`;
  tip.style.top = `${y + 14}px`;
}

// ---------------------------------------------------------------- sending

function send(msg) {
  if (app.role !== 'owner') {
    notify(t('msg.read_only'), 'warn', 3000);
    return;
  }
  app.socket.send(msg);
}

function configure(partial) {
  if (partial.dataset) app.dataCustom = false;
  if (partial.network) draftEdit(partial.network);
  send({ type: 'configure', config: partial });
}

function subscribe() {
  app.socket.send({
    type: 'subscribe',
    grid_resolution: app.ui.gridResolution,
    fps: 30,
    neurons: true,
    neuron_resolution: app.neuronRes || 24,
    // Thumbnails need ~12 pictures a second; a hovered unit shown full size gets 15 (the
    // 64x64 grids of every unit go to the session's watchers too: keep them affordable).
    neuron_fps: app.neuronRes === 64 ? 15 : 12,
    stats: false,
    ...(app.instruments ? app.instruments.subscription() : {}),
  });
}

/** While a unit is hovered, stream unit grids at a finer resolution for the big view. */
function setNeuronDetail(on) {
  if (app.role !== 'owner') return;
  clearTimeout(app.detailTimer);
  const want = on ? 64 : 24;
  if (want === (app.neuronRes || 24)) return;
  app.detailTimer = setTimeout(() => { app.neuronRes = want; subscribe(); }, on ? 0 : 800);
}

// ---------------------------------------------------------------- state -> page

function writeHash() {
  if (app.role !== 'owner' || !app.config) return;
  const hash = encodeHash(app.config, { ...app.ui, lang: language() });
  if (hash !== location.hash) history.replaceState(null, '', location.pathname + location.search + hash);
}

function applyConfig(config) {
  app.config = config;
  settleDraft(config);
  app.controls.update(config);
  const net = config.network || {};
  const hidden = net.hidden_layers || [];
  $('layer-count').textContent = hidden.length === 0 ? t('layers.count0')
    : hidden.length === 1 ? t('layers.count1') : t('layers.count', { n: hidden.length });
  const lim = app.options?.limits || {};
  $('btn-add-layer').disabled = app.role !== 'owner' || hidden.length >= (lim.max_hidden_layers || 10);
  $('btn-remove-layer').disabled = app.role !== 'owner' || hidden.length === 0;
  refreshDiagram();
  const regression = isRegression(config);
  document.body.classList.toggle('regression', regression);
  app.instruments?.onConfig(config);
  writeHash();
}

/** A regression session (plane, multi_gaussian with mse): no classes, no accuracy. */
function isRegression(config) {
  const info = app.options?.datasets?.[getPath(config, 'dataset.name')];
  return !!(info && info.regression);
}

function refreshDiagram() {
  const c = app.config;
  if (!c) return;
  const net = c.network || {};
  const hidden = net.hidden_layers || [];
  const acts = Array.isArray(net.activation) ? net.activation : hidden.map(() => net.activation);
  app.diagram.setStructure({
    features: net.features || ['x1', 'x2'],
    hidden,
    activations: acts,
    classes: app.data?.classes || c.dataset?.classes || 2,
    activationChoices: app.options?.activations,
    maxUnits: app.options?.limits?.max_units,
  });
  app.diagram.setReadOnly(app.role !== 'owner');
  app.weightsWanted = true;
}

function setRunning(r) {
  app.running = !!r;
  const b = $('btn-play');
  b.classList.toggle('playing', app.running);
  b.setAttribute('aria-pressed', String(app.running));
  b.title = t(app.running ? 'btn.pause' : 'btn.play');
  b.setAttribute('aria-label', b.title);
}

const textCache = new Map();

/** Set an element's text only when it changed (no needless style/layout/paint work). */
function setText(id, text) {
  if (textCache.get(id) === text) return;
  textCache.set(id, text);
  $(id).textContent = text;
}

// The counters are read, not watched: ten updates a second are plenty, and each update
// costs the browser a layout, a hit test and a repaint of the top bar.
const COUNTER_INTERVAL = 100; // ms
let countersAt = 0;
let countersTimer = 0;

function onMetrics(m) {
  if (m.step < app.lastStep) { app.lossChart.clear(); app.accChart.clear(); }
  app.lastStep = m.step;
  app.lastMetrics = m;
  app.instruments?.onMetrics(m);
  app.lossChart.push(m.step, [m.train_loss, m.validation_loss]);
  app.accChart.push(m.step, [m.train_accuracy, m.validation_accuracy]);
  if (m.running !== undefined && m.running !== app.running) setRunning(m.running);
  const wait = COUNTER_INTERVAL - (performance.now() - countersAt);
  if (!app.running || wait <= 0) showCounters();
  else if (!countersTimer) countersTimer = setTimeout(showCounters, wait);
}

function showCounters() {
  clearTimeout(countersTimer);
  countersTimer = 0;
  countersAt = performance.now();
  const m = app.lastMetrics;
  if (!m) return;
  setText('m-step', String(m.step));
  setText('m-epoch', String(m.epoch ?? 0));
  setText('m-train-loss', fmtLoss(m.train_loss));
  setText('m-val-loss', fmtLoss(m.validation_loss));
  setText('m-train-acc', fmtAcc(m.train_accuracy));
  setText('m-val-acc', fmtAcc(m.validation_accuracy));
  setText('m-lr', m.learning_rate == null ? '–' : String(+(+m.learning_rate).toPrecision(3)));
  setText('m-sps', m.steps_per_second == null ? '–' : String(Math.round(m.steps_per_second)));
}

function onEvent(ev) {
  const params = { ...ev, message: ev.message || '' };
  if (ev.event === 'diverged') {
    setRunning(false);
    const lr = ev.learning_rate ?? getPath(app.config, 'optimizer.learning_rate');
    notify(ev.step != null && lr != null ? t('ev.diverged', { ...params, learning_rate: lr }) : ev.message, 'error', 15000);
  } else if (ev.event === 'reset') {
    app.lossChart.clear();
    app.accChart.clear();
    app.lastStep = -1;
    app.weightsWanted = true;
    app.instruments?.onReset(ev);
    // The first reset after hello only carries the initial-loss check: no toast for it.
    if (app.greetedReset) notify(t('ev.reset'), 'info', 2500);
    app.greetedReset = true;
  } else if (ev.event === 'playing') {
    setRunning(true);
    app.instruments?.onPlaying();
  } else if (ev.event === 'paused') {
    setRunning(false);
  } else if (ev.event === 'stopped') {
    setRunning(false);
    app.instruments.onStopped(ev);
  } else if (ev.message) {
    notify(ev.message, 'info');
  }
}

function onError(e) {
  if (e.request_type === 'configure') app.networkDraft = null; // the edit was refused
  if (app.role !== 'owner' && e.code === 'read_only') {
    if (e.request_type === 'get_model') app.watcherModelDenied = true;
    return; // only the page's own automatic requests get here; the user was already told
  }
  if (e.code === 'not_found' && e.request_type === 'remove_point') {
    notify(e.message, 'warn', 2500); // a right-click on empty space: say so, briefly
    return;
  }
  const text = e.field ? t('err.field', { field: e.field, message: e.message }) : t('err.generic', { message: e.message });
  notify(text, 'error', 12000);
  if (app.config) app.controls.update(app.config); // put the rejected control back
}

function onHello(msg) {
  app.networkDraft = null; // a (re)connection starts from the server's config
  if (msg.resumed !== undefined) msg._resumed = !!msg.resumed;
  app.role = msg.role || (msg.session_id ? 'owner' : 'watcher');
  app.watchToken = msg.watch_token || app.watchToken;
  if (msg.limits) app.options.limits = { ...app.options.limits, ...msg.limits };
  const previous = app.config;
  applyConfig(msg.config);
  setRunning(msg.running);
  app.weightsWanted = true;
  if (app.role !== 'owner') return; // a watcher follows the owner's subscription
  subscribe();
  if (msg._reconnect && !msg._resumed && previous) {
    // A new session after the old one was lost: restore everything the page knew.
    send({ type: 'configure', config: stripForConfigure(previous) });
    if (app.dataCustom && app.data) {
      send({ type: 'set_data', points: app.data.points, labels: app.data.labels });
      app.dataCustom = true;
    }
    if (app.wasRunning) send({ type: 'play' });
    notify(t('msg.new_session'), 'info');
  } else if (msg._reconnect) {
    notify(t('msg.reconnected'), 'info', 3000);
  } else if (app.hashConfig && Object.keys(app.hashConfig).length && !satisfied(app.hashConfig, msg.config)) {
    send({ type: 'configure', config: app.hashConfig });
  }
}

function stripForConfigure(config) {
  const { ...c } = config;
  return c;
}

function onMessage(msg) {
  switch (msg.type) {
    case 'hello': onHello(msg); break;
    case 'config': applyConfig(msg.config); break;
    case 'data':
      app.data = msg;
      app.boundary.setData(msg);
      app.diagram.setDomain(msg.domain || app.diagram.domain);
      app.controls.buildPalette(msg.classes || 2);
      refreshDiagram();
      break;
    case 'metrics':
      // A hidden tab gets no animation frames: keep a bounded backlog for the charts.
      if (pending.metrics.push(msg) > 120) pending.metrics.splice(0, 60);
      queueRender();
      break;
    case 'event': onEvent(msg); break;
    case 'stats': app.instruments.stats.onStats(msg); break;
    case 'gradcheck': app.instruments.onGradcheck(msg); break;
    case 'transform': app.instruments.transform.onTransform(msg); break;
    case 'error': onError(msg); break;
    case 'model':
      app.diagram.setWeights(msg.model);
      if (app.pendingExport) {
        app.pendingExport = false;
        download('mlp-playground-model.json', JSON.stringify(msg.model, null, 2), 'application/json');
        notify(t('msg.model_exported'), 'info', 3000);
      }
      break;
    default: break;
  }
}

// Frames and metrics arrive as separate messages; keep only the newest of each and draw them
// together in one animation frame, so the browser renders (and commits) once per batch.
const pending = { grid: null, units: null, metrics: [] };
let renderQueued = false;

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
  // Thumbnails: at most ~12 a second; nobody reads 16 small pictures faster than that.
  const now = performance.now();
  if (pending.units && (now - (app.lastUnitsAt || 0) >= 80 || pending.units.channels !== app.lastUnitsChannels)) {
    app.lastUnitsAt = now;
    app.lastUnitsChannels = pending.units.channels;
    app.diagram.setUnitFrame(pending.units);
    if (app.hovered && app.hovered.isUnit) app.boundary.showNeuron(app.hovered);
    pending.units = null;
  }
}

function onFrame(frame) {
  if (frame.kind === 1 || frame.kind === 4) pending.grid = frame;
  else if (frame.kind === 2) pending.units = frame;
  else if (frame.kind === 3) { app.instruments.onUncertainty(frame); return; }
  else return;
  queueRender();
}

function onStatus(status) {
  app.status = status;
  document.body.dataset.status = status;
  if (status === 'reconnecting') {
    if (app.running) app.wasRunning = true;
    banner(app.role === 'watcher' && app.watchEnded ? t('banner.watch_ended') : t('banner.reconnecting'));
  } else if (status === 'connecting') {
    banner(t('banner.connecting'));
  } else if (status === 'open') {
    banner(null);
  }
}

// ---------------------------------------------------------------- files

function download(name, text, type) {
  const blob = text instanceof Blob ? text : new Blob([text], { type });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function uploadCsv(file) {
  const text = await file.text();
  const result = parseCsv(text, app.options?.limits?.max_classes || 8);
  if (result.error) {
    const msg = t(`msg.csv_${result.error.code}`, result.error.params);
    notify(t('msg.csv_line', { line: result.error.line, message: msg }), 'error', 15000);
    return;
  }
  if (!result.points.length) { notify(t('msg.csv_empty'), 'error'); return; }
  send({ type: 'set_data', points: result.points, labels: result.labels });
  app.dataCustom = true;
  notify(t('msg.csv_loaded', { n: result.points.length, name: file.name }), 'info', 4000);
}

/**
 * Load a model document into the live session with POST /sessions/{id}/model (any size the
 * network limits allow): the server reshapes the network, loads the weights and the
 * document's normalisation, and tells every connection (config, reset event, new frames).
 */
async function importModel(file) {
  let doc;
  try {
    doc = JSON.parse(await file.text());
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a JSON object');
  } catch (e) {
    notify(t('msg.model_bad', { message: e.message }), 'error', 10000);
    return;
  }
  const id = app.socket.sessionId;
  if (!id || app.role !== 'owner') return;
  app.networkDraft = null; // the document's network replaces whatever was on its way
  let message;
  try {
    const r = await fetch(`/sessions/${encodeURIComponent(id)}/model`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(doc),
    });
    if (r.ok) {
      app.weightsWanted = true;
      notify(t('msg.model_imported'), 'info', 4000);
      return;
    }
    const body = await r.json().catch(() => ({}));
    message = (Array.isArray(body.detail) ? body.detail[0]?.msg : body.detail) || `HTTP ${r.status}`;
  } catch (e) {
    message = e.message;
  }
  notify(t('msg.model_bad', { message }), 'error', 12000);
}

// ---------------------------------------------------------------- points on the canvas

function pointerOnPlot(e) {
  if (app.role !== 'owner' || !app.config) return;
  e.preventDefault();
  const p = app.boundary.toData(e.clientX, e.clientY);
  const [x0, x1] = app.boundary.domain;
  if (e.button === 2 || e.altKey || app.controls.eraser) {
    send({ type: 'remove_point', point: p, radius: (x1 - x0) * 0.04 });
  } else {
    const K = app.data?.classes || app.config.dataset?.classes || 2;
    const k = e.shiftKey ? (app.controls.selectedClass + 1) % K : app.controls.selectedClass;
    send({ type: 'add_point', point: p, label: k });
  }
  app.dataCustom = true;
}

// ---------------------------------------------------------------- UI settings

function setUi(name, value) {
  app.ui[name] = value;
  if (name === 'showValidation') app.boundary.setShowValidation(value);
  if (name === 'discretize') app.boundary.setDiscrete(value);
  if (name === 'logScale') { app.lossChart.setLog(value); $('log-scale').checked = !!value; }
  if (name === 'gridResolution') subscribe();
  if (name === 'large') {
    document.documentElement.classList.toggle('large', !!value);
    $('btn-large').setAttribute('aria-pressed', String(!!value));
    requestAnimationFrame(relayout);
  }
  writeHash();
}

function setLang(l) {
  setLanguage(l);
  translatePage(document);
  $('btn-lang').textContent = language() === 'fr' ? 'EN' : 'FR';
  app.lossChart?.setLabels([t('chart.train'), t('chart.validation')]);
  app.accChart?.setLabels([t('chart.train'), t('chart.validation')]);
  setRunning(app.running);
  app.instruments?.retranslate();
  if (app.config) applyConfig(app.config);
  writeHash();
}

function relayout() {
  app.boundary.resize();
  app.diagram.key = '';
  refreshDiagram();
  app.lossChart.measure();
  app.accChart.measure();
}

// ---------------------------------------------------------------- start

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

async function start() {
  const query = new URLSearchParams(location.search);
  const watch = query.get('watch');
  const fromHash = decodeHash(location.hash);
  app.hashConfig = fromHash.config;
  app.ui = { ...UI_DEFAULTS, ...fromHash.ui };
  setLanguage(app.ui.lang || detectLanguage(navigator.language));
  translatePage(document);
  $('btn-lang').textContent = language() === 'fr' ? 'EN' : 'FR';
  if (watch) {
    app.role = 'watcher';
    document.body.classList.add('watcher');
    $('watch-note').hidden = false;
  }

  app.boundary = new Boundary({ grid: $('grid'), points: $('points'), axes: $('axes'), plot: $('plot') });
  const [c0, c1] = CLASS_COLORS;
  app.lossChart = new Chart($('chart-loss'), {
    series: [{ name: t('chart.train'), color: rgb(c1) }, { name: t('chart.validation'), color: rgb(c0), dashed: true }],
    format: fmtLoss, tick: (v) => String(+v.toPrecision(2)), yMin: 0, log: app.ui.logScale, xLabel: () => t('chart.step'),
  });
  app.accChart = new Chart($('chart-acc'), {
    series: [{ name: t('chart.train'), color: rgb(c1) }, { name: t('chart.validation'), color: rgb(c0), dashed: true }],
    format: (v) => `${(v * 100).toFixed(1)}%`, tick: (v) => `${Math.round(v * 100)}%`, yMin: 0, yMax: 1, xLabel: () => t('chart.step'),
  });
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
    { picker: $('dataset-picker'), data: $('data-controls'), view: $('view-controls'), network: $('network-controls'), optimizer: $('optimizer-controls'), palette: $('palette') },
    { configure, ui: setUi, t, network: draftNetwork },
  );

  app.instruments = new Instruments({
    send,
    configure,
    resubscribe: () => { if (app.role === 'owner' && app.socket) subscribe(); },
    t,
    notify,
    config: () => app.config,
    data: () => app.data,
    dataCustom: () => app.dataCustom,
    options: () => app.options,
    isOwner: () => app.role === 'owner',
    weightsChanged: () => { app.weightsWanted = true; },
  });

  app.options = await loadOptions();
  app.controls.build(app.options, app.ui);
  app.instruments.build(app.options);
  if (app.ui.large) document.documentElement.classList.add('large');
  $('btn-large').setAttribute('aria-pressed', String(!!app.ui.large));
  $('log-scale').checked = !!app.ui.logScale;
  app.boundary.setShowValidation(app.ui.showValidation);
  app.boundary.setDiscrete(app.ui.discretize);
  if (watch) { app.controls.setReadOnly(true); app.instruments.setReadOnly(true); }

  wireButtons();
  new ResizeObserver(() => relayout()).observe($('plot'));
  app.boundary.resize();

  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  app.socket = new LiveSocket({
    url: (resume) => (watch ? `${proto}//${location.host}/ws/watch/${encodeURIComponent(watch)}`
      : `${proto}//${location.host}/ws${resume ? `?session=${encodeURIComponent(resume)}` : ''}`),
    onMessage,
    onFrame,
    onStatus,
    onClose: (ev) => {
      // 1008 on a watch link: the session is gone (or the link is wrong); stop retrying.
      if (watch && ev.code === 1008) {
        app.watchEnded = true;
        setRunning(false);
        banner(t('banner.watch_ended'));
        return false;
      }
      return true;
    },
  });
  app.socket.connect();

  // A throttled kind-2 frame still gets drawn once frames stop coming.
  setInterval(() => { if (pending.units) queueRender(); }, 100);

  // Weights for the diagram: ask a few times a second while training (cheap, small nets).
  setInterval(() => {
    if (!app.socket.open || app.watcherModelDenied) return;
    if (app.running || app.weightsWanted) {
      app.weightsWanted = false;
      app.socket.send({ type: 'get_model' });
    }
  }, 500);
  window.__mlpg = app;
}

/**
 * The network as the user last asked for it: the server's config, or the edit still on its
 * way. Two quick clicks on "+" must add two layers, and "all relu" right after "+" must
 * cover the new layer too, even before the server has answered the first click.
 */
function draftNetwork() {
  const d = app.networkDraft;
  // An edit unanswered for 2 s was lost (rate limit, reconnect): trust the server again.
  if (d && performance.now() - d.at > DRAFT_TTL) app.networkDraft = null;
  return app.networkDraft ? app.networkDraft.network : app.config.network;
}

const DRAFTED = ['hidden_layers', 'activation', 'features']; // edits that build on the last one
const DRAFT_TTL = 2000; // ms

/** Record a network edit on its way to the server (see draftNetwork). */
function draftEdit(network) {
  if (!app.config || !DRAFTED.some((k) => k in network)) return;
  const next = { ...draftNetwork(), ...network };
  if (typeof next.activation === 'string') next.activation = next.hidden_layers.map(() => network.activation);
  app.networkDraft = { network: next, at: performance.now() };
}

/** A config from the server settles the draft once it shows the edit (or the edit is old). */
function settleDraft(config) {
  const d = app.networkDraft;
  if (!d) return;
  const same = (k) => JSON.stringify(config.network?.[k]) === JSON.stringify(d.network[k]);
  if (DRAFTED.every(same) || performance.now() - d.at > DRAFT_TTL) app.networkDraft = null;
}

function editLayers(fn) {
  const net = draftNetwork();
  const h = [...net.hidden_layers];
  const acts = Array.isArray(net.activation) ? [...net.activation] : h.map(() => net.activation);
  fn(h, acts);
  while (acts.length < h.length) acts.push(acts[acts.length - 1] || 'tanh');
  acts.length = h.length;
  configure({ network: { hidden_layers: h, activation: acts } });
}

function wireButtons() {
  $('btn-play').addEventListener('click', () => send({ type: app.running ? 'pause' : 'play' }));
  $('btn-step').addEventListener('click', () => send({ type: 'step', steps: 1 }));
  $('btn-reset').addEventListener('click', () => send({ type: 'reset' }));
  $('btn-reseed').addEventListener('click', () => send({ type: 'reseed' }));
  $('btn-regenerate').addEventListener('click', () => { app.dataCustom = false; send({ type: 'regenerate' }); });
  $('btn-clear').addEventListener('click', () => { app.dataCustom = true; send({ type: 'clear_points' }); });
  $('btn-add-layer').addEventListener('click', () => editLayers((h) => { h.push(h.length ? h[h.length - 1] : 4); }));
  $('btn-remove-layer').addEventListener('click', () => editLayers((h) => { h.pop(); }));
  $('csv-input').addEventListener('change', (e) => {
    const f = e.target.files[0];
    if (f) uploadCsv(f);
    e.target.value = '';
  });
  $('model-input').addEventListener('change', (e) => {
    const f = e.target.files[0];
    if (f) importModel(f);
    e.target.value = '';
  });
  $('btn-download').addEventListener('click', () => {
    if (!app.data) { notify(t('msg.no_data'), 'warn'); return; }
    download('mlp-playground-data.csv', toCsv(app.data), 'text/csv');
  });
  $('btn-png').addEventListener('click', () => {
    app.boundary.composite(800).toBlob((blob) => download('mlp-playground-boundary.png', blob));
  });
  $('btn-export').addEventListener('click', () => { app.pendingExport = true; app.socket.send({ type: 'get_model' }); });
  $('btn-share').addEventListener('click', () => {
    const url = `${location.origin}/?watch=${encodeURIComponent(app.watchToken || '')}`;
    const a = $('watch-link');
    a.href = url;
    a.textContent = url;
    $('share-dialog').showModal();
  });
  $('btn-close-share').addEventListener('click', () => $('share-dialog').close());
  $('btn-copy-link').addEventListener('click', async () => {
    try { await navigator.clipboard.writeText($('watch-link').href); $('btn-copy-link').textContent = t('btn.copied'); } catch { /* clipboard may be denied */ }
  });
  $('btn-large').addEventListener('click', () => setUi('large', !app.ui.large));
  $('btn-lang').addEventListener('click', () => setLang(language() === 'fr' ? 'en' : 'fr'));
  $('log-scale').addEventListener('change', (e) => setUi('logScale', e.target.checked));

  const pts = $('points');
  pts.addEventListener('pointerdown', pointerOnPlot);
  pts.addEventListener('contextmenu', (e) => e.preventDefault());

  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target.tagName;
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA' || e.target.isContentEditable) return;
    if ($('share-dialog').open) return;
    if (e.key === ' ') { e.preventDefault(); $('btn-play').click(); }
    else if (e.key === 's' || e.key === 'S') $('btn-step').click();
    else if (e.key === 'r' || e.key === 'R') $('btn-reset').click();
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
