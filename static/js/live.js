// The session's messages to the page: hello (and what a reconnection must restore), config,
// data, metrics, events, errors, the model, and the connection's status.

import { app, isOwner, send, subscribe } from './app.js';
import { banner, download, notify } from './feedback.js';
import { getPath, satisfied } from './state.js';
import { t } from './i18n.js';
import { applyConfig, refreshDiagram, setRunning } from './view.js';
import { queueMetrics } from './render.js';
import { loadRunAfterHello, onLoadRunError, onRunLoaded, onSaved, onSaveError } from './runs.js';
import { classUnknown, onPushed, studentHello } from './student.js';

export function onMessage(msg) {
  switch (msg.type) {
    case 'hello': onHello(msg); break;
    case 'config': applyConfig(msg.config); break;
    case 'data': onData(msg); break;
    case 'metrics': queueMetrics(msg); break;
    case 'event': onEvent(msg); break;
    case 'stats': app.instruments.stats.onStats(msg); break;
    case 'gradcheck': app.instruments.onGradcheck(msg); break;
    case 'transform': app.instruments.transform.onTransform(msg); break;
    case 'error': onError(msg); break;
    case 'model': onModel(msg); break;
    case 'saved': onSaved(msg); break;
    default: break;
  }
}

function onData(msg) {
  app.data = msg;
  app.boundary.setData(msg);
  app.diagram.setDomain(msg.domain || app.diagram.domain);
  app.controls.buildPalette(msg.classes);
  refreshDiagram();
}

function onModel(msg) {
  app.model = msg.model; // the newest model document (tests compare it; export uses its own)
  app.diagram.setWeights(msg.model);
  if (!app.pendingExport) return;
  app.pendingExport = false;
  download('mlp-playground-model.json', JSON.stringify(msg.model, null, 2), 'application/json');
  notify(t('msg.model_exported'), 'info', 3000);
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
  if (!isOwner()) return; // a watcher follows the owner's subscription
  studentHello(msg);
  subscribe();
  if (app.runId && !msg._reconnect) {
    loadRunAfterHello(app.runId); // /r/<id>: that run, paused, in this fresh session
    return;
  }
  if (msg._reconnect && !msg._resumed && previous) {
    // A new session after the old one was lost: restore everything the page knew.
    send({ type: 'configure', config: previous });
    if (app.dataCustom && app.data) {
      send({ type: 'set_data', points: app.data.points, labels: app.data.labels });
      app.dataCustom = true;
    }
    if (app.wasRunning) send({ type: 'play' });
    notify(t('msg.new_session'), 'info');
  } else if (msg._reconnect) {
    notify(t('msg.reconnected'), 'info', 3000);
  } else if (Object.keys(app.hashConfig).length && !satisfied(app.hashConfig, msg.config)) {
    // The URL's settings, and the page's pace (the server's own session default is "max").
    send({ type: 'configure', config: app.hashConfig });
  }
}

function onEvent(ev) {
  switch (ev.event) {
    case 'diverged': {
      setRunning(false);
      const lr = ev.learning_rate ?? getPath(app.config, 'optimizer.learning_rate');
      notify(ev.step != null && lr != null ? t('ev.diverged', { ...ev, message: ev.message || '', learning_rate: lr }) : ev.message, 'error', 15000);
      break;
    }
    case 'reset':
      app.lossChart.clear();
      app.accChart.clear();
      app.lastStep = -1;
      app.weightsWanted = true;
      app.instruments?.onReset(ev);
      // The first reset after hello only carries the initial-loss check: no toast for it.
      if (app.greetedReset && !(app.quietResetUntil > performance.now())) notify(t('ev.reset'), 'info', 2500);
      app.greetedReset = true;
      break;
    case 'playing': setRunning(true); app.instruments?.onPlaying(); break;
    case 'paused': setRunning(false); break;
    case 'stopped': setRunning(false); app.instruments.onStopped(ev); break;
    case 'pushed': onPushed(ev); break;
    case 'run_loaded': onRunLoaded(ev); break;
    default: if (ev.message) notify(ev.message, 'info');
  }
}

function onError(e) {
  if (e.code === 'unknown_class') { classUnknown(); return; }
  if (e.request_type === 'load_run') { onLoadRunError(e); return; }
  if (e.request_type === 'save') { onSaveError(e); return; }
  if (e.request_type === 'configure') app.networkDraft = null; // the edit was refused
  if (!isOwner() && e.code === 'read_only') {
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

export function onStatus(status) {
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

/** 1008 on a watch link: the session is gone (or the link is wrong); stop retrying. */
export function onClose(ev, watching) {
  if (app.classUnknown) { banner(null); return false; } // no class to join: stop retrying
  if (watching && ev.code === 1008) {
    app.watchEnded = true;
    setRunning(false);
    banner(t('banner.watch_ended'));
    return false;
  }
  return true;
}
