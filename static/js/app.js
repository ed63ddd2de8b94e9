// The page's shared state and its three ways of talking to the session: send a message (the
// owner only), subscribe to the stream, ask for finer unit grids while a unit is hovered.
// Nothing here touches the DOM; the other modules read and write `app`.

import { t } from './i18n.js';
import { notify } from './feedback.js';

export const app = {
  options: null, // GET /api/options (hello.limits merged in): every list, default and cap
  config: null,
  ui: null,
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
  networkDraft: null,
  neuronRes: null,
};

/** The server's caps (limits from /api/options, updated by hello). */
export function limits() {
  return app.options?.limits || {};
}

export function isOwner() {
  return app.role === 'owner';
}

export function send(msg) {
  if (!isOwner()) {
    notify(t('msg.read_only'), 'warn', 3000);
    return;
  }
  app.socket.send(msg);
}

// The stream the page asks for. Thumbnails are small (a third of the server's finest unit
// grid); a hovered unit shown full size gets the finest. The boundary is drawn at 30 frames a
// second at most (a projector shows no more), the thumbnails at ~12 and a hovered unit at 15
// (the finest grids of every unit go to the session's watchers too: keep them affordable).
const FPS = 30;
const THUMB_FPS = 12;
const DETAIL_FPS = 15;

function neuronResolutions() {
  const lim = limits();
  const fine = lim.max_neuron_resolution;
  const small = Math.max(lim.min_neuron_resolution || 1, Math.round(fine * 0.375));
  return { small, fine };
}

export function subscribe() {
  const lim = limits();
  const { small, fine } = neuronResolutions();
  const res = app.neuronRes || small;
  app.socket.send({
    type: 'subscribe',
    grid_resolution: Math.min(app.ui.gridResolution, lim.max_live_grid_resolution),
    fps: Math.min(FPS, lim.max_fps),
    neurons: true,
    neuron_resolution: res,
    neuron_fps: Math.min(res === fine ? DETAIL_FPS : THUMB_FPS, lim.max_fps),
    stats: false,
    ...(app.instruments ? app.instruments.subscription() : {}),
  });
}

/** While a unit is hovered, stream unit grids at the finest resolution for the big view. */
export function setNeuronDetail(on) {
  if (!isOwner()) return;
  clearTimeout(app.detailTimer);
  const { small, fine } = neuronResolutions();
  const want = on ? fine : small;
  if (want === (app.neuronRes || small)) return;
  app.detailTimer = setTimeout(() => { app.neuronRes = want; subscribe(); }, on ? 0 : 800);
}
