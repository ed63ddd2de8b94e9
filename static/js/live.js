// The session's messages to the page: hello (and what a reconnection must restore), config,
// data, metrics, events, errors, the model, and the connection's status. What the server says
// goes into the session state (session.js); the panels it is drawn into, and the start-up
// facts (a saved run to open, the URL's settings) are handed over once by initLive.

import { denyWeights, isOwner, request, send, subscribe, wantWeights } from './channel.js';
import { dropDraft, isDataCustom } from './edits.js';
import { banner, download, notify } from './feedback.js';
import { getPath, satisfied } from './state.js';
import { t } from './i18n.js';
import { applyConfig, refreshDiagram, setRunning } from './view.js';
import { queueMetrics } from './render.js';
import { loadRunAfterHello, onLoadRunError, onRunLoaded, onSaved, onSaveError } from './runs.js';
import { classIsUnknown, classUnknown, onPushed, studentHello } from './student.js';
import { clearStep, session, setData, setGreeting, setStatus } from './session.js';

/** {boundary, diagram, controls, instruments, lossChart, accChart} */
let panels = null;
let start = { runId: null, hashConfig: {} }; // /r/<id>, and the URL's settings for the first hello
let wasRunning = false; // training when the connection dropped: a new session plays again
let greetedReset = false; // the first reset after hello only carries the initial-loss check
let quietUntil = 0; // no "reset" toast before then (a lesson step says what changed)
let watchEnded = false;
let modelWaiters = []; // resolvers of requestModel(), answered by the next `model`

/**
 * The panels to draw into, and what the first hello acts on: `runId` (a `/r/<id>` page) and
 * `hashConfig` (the URL's partial config, sent when the session does not already match it).
 */
export function initLive(p, { runId = null, hashConfig = {} } = {}) {
  panels = p;
  start = { runId, hashConfig };
}

/** No "reset" toast for the next `ms` (the change was announced some other way). */
export function muteResetToast(ms) {
  quietUntil = performance.now() + ms;
}

/** The session's model document, fetched now (any connection may ask). */
export function requestModel() {
  return new Promise((resolve) => {
    modelWaiters.push(resolve);
    request({ type: 'get_model' });
  });
}

export function onMessage(msg) {
  switch (msg.type) {
    case 'config': applyConfig(msg.config); break;
    case 'data': onData(msg); break;
    case 'metrics': queueMetrics(msg); break;
    case 'event': onEvent(msg); break;
    case 'stats': panels.instruments.stats.onStats(msg); break;
    case 'gradcheck': panels.instruments.onGradcheck(msg); break;
    case 'transform': panels.instruments.transform.onTransform(msg); break;
    case 'error': onError(msg); break;
    case 'model': onModel(msg); break;
    case 'saved': onSaved(msg); break;
    default: break;
  }
}

function onData(msg) {
  setData(msg);
  panels.boundary.setData(msg);
  panels.diagram.setDomain(msg.domain || panels.diagram.domain);
  panels.controls.buildPalette(msg.classes);
  refreshDiagram();
}

function onModel(msg) {
  panels.diagram.setWeights(msg.model);
  const waiters = modelWaiters;
  modelWaiters = [];
  for (const resolve of waiters) resolve(msg.model);
}

/** Download the model document as JSON (the "export" button). */
export async function exportModel() {
  const model = await requestModel();
  download('mlp-playground-model.json', JSON.stringify(model, null, 2), 'application/json');
  notify(t('msg.model_exported'), 'info', 3000);
}

/**
 * hello, with what the socket knows about it: `reconnect` (not the page's first connection)
 * and `resumed` (the session asked for came back, so it still holds everything).
 */
export function onHello(msg, { reconnect, resumed }) {
  dropDraft(); // a (re)connection starts from the server's config
  const wasResumed = msg.resumed !== undefined ? !!msg.resumed : resumed;
  setGreeting(msg);
  const previous = session.config;
  applyConfig(msg.config);
  setRunning(msg.running);
  wantWeights();
  if (!isOwner()) return; // a watcher follows the owner's subscription
  studentHello(msg);
  subscribe();
  if (start.runId && !reconnect) {
    loadRunAfterHello(start.runId); // /r/<id>: that run, paused, in this fresh session
    return;
  }
  if (reconnect && !wasResumed && previous) {
    // A new session after the old one was lost: restore everything the page knew.
    send({ type: 'configure', config: previous });
    if (isDataCustom() && session.data) {
      send({ type: 'set_data', points: session.data.points, labels: session.data.labels });
    }
    if (wasRunning) send({ type: 'play' });
    notify(t('msg.new_session'), 'info');
  } else if (reconnect) {
    notify(t('msg.reconnected'), 'info', 3000);
  } else if (Object.keys(start.hashConfig).length && !satisfied(start.hashConfig, msg.config)) {
    // The URL's settings, and the page's pace (the server's own session default is "max").
    send({ type: 'configure', config: start.hashConfig });
  }
}

function onEvent(ev) {
  switch (ev.event) {
    case 'diverged': {
      setRunning(false);
      const lr = ev.learning_rate ?? getPath(session.config, 'optimizer.learning_rate');
      notify(ev.step != null && lr != null ? t('ev.diverged', { ...ev, message: ev.message || '', learning_rate: lr }) : ev.message, 'error', 15000);
      break;
    }
    case 'reset':
      panels.lossChart.clear();
      panels.accChart.clear();
      clearStep();
      wantWeights();
      panels.instruments.onReset(ev);
      if (greetedReset && !(quietUntil > performance.now())) notify(t('ev.reset'), 'info', 2500);
      greetedReset = true;
      break;
    case 'playing': setRunning(true); panels.instruments.onPlaying(); break;
    case 'paused': setRunning(false); break;
    case 'stopped': setRunning(false); panels.instruments.onStopped(ev); break;
    case 'pushed': onPushed(ev); break;
    case 'run_loaded': onRunLoaded(ev); break;
    default: if (ev.message) notify(ev.message, 'info');
  }
}

function onError(e) {
  if (e.code === 'unknown_class') { classUnknown(); return; }
  if (e.request_type === 'load_run') { onLoadRunError(e); return; }
  if (e.request_type === 'save') { onSaveError(e); return; }
  if (e.request_type === 'configure') dropDraft(); // the edit was refused
  if (!isOwner() && e.code === 'read_only') {
    if (e.request_type === 'get_model') denyWeights();
    return; // only the page's own automatic requests get here; the user was already told
  }
  if (e.code === 'not_found' && e.request_type === 'remove_point') {
    notify(e.message, 'warn', 2500); // a right-click on empty space: say so, briefly
    return;
  }
  const text = e.field ? t('err.field', { field: e.field, message: e.message }) : t('err.generic', { message: e.message });
  notify(text, 'error', 12000);
  if (session.config) panels.controls.update(session.config); // put the rejected control back
}

export function onStatus(status) {
  setStatus(status);
  document.body.dataset.status = status;
  if (status === 'reconnecting') {
    if (session.running) wasRunning = true;
    banner(session.role === 'watcher' && watchEnded ? t('banner.watch_ended') : t('banner.reconnecting'));
  } else if (status === 'connecting') {
    banner(t('banner.connecting'));
  } else if (status === 'open') {
    banner(null);
  }
}

/** 1008 on a watch link: the session is gone (or the link is wrong); stop retrying. */
export function onClose(ev, watching) {
  if (classIsUnknown()) { banner(null); return false; } // no class to join: stop retrying
  if (watching && ev.code === 1008) {
    watchEnded = true;
    setRunning(false);
    banner(t('banner.watch_ended'));
    return false;
  }
  return true;
}
