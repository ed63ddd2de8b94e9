// The page's ways of talking to its session: send a message (the owner only), subscribe to the
// stream, ask for finer unit grids while a unit is hovered, and fetch the weights for the
// diagram a few times a second. This module owns the socket reference and the subscription
// preferences; nothing here touches the DOM.

import { t } from './i18n.js';
import { notify } from './feedback.js';
import { session } from './session.js';
import { ui } from './page.js';

const WEIGHTS_INTERVAL = 500; // ms: the diagram's weights, a few times a second while training

let socket = null; // the LiveSocket, once connect() made it
let extras = () => ({}); // what the open instruments add to the subscription
let neuronRes = null; // the unit grids' resolution asked for (null: the small default)
let detailTimer = 0;
let weightsWanted = true; // the diagram's weights are out of date
let weightsDenied = false; // a watcher whose owner keeps the model to themselves

/** The server's caps (limits from /api/options, updated by hello). */
export function limits() {
  return session.limits;
}

export function isOwner() {
  return session.role === 'owner';
}

/** The live socket the messages go through, and what the instruments add to `subscribe`. */
export function attach(liveSocket, subscriptionExtras) {
  socket = liveSocket;
  if (subscriptionExtras) extras = subscriptionExtras;
}

/** The LiveSocket itself, for the read-only debug handle (window.__mlpg) only. */
export function currentSocket() {
  return socket;
}

export function isOpen() {
  return !!socket?.open;
}

/** A user's request: only the session's owner may steer it (a watcher is told so). */
export function send(msg) {
  if (!isOwner()) {
    notify(t('msg.read_only'), 'warn', 3000);
    return;
  }
  socket.send(msg);
}

/** A request any connection may make (the model, a save), sent as it is. */
export function request(msg) {
  return socket ? socket.send(msg) : false;
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
  if (!socket) return;
  const lim = limits();
  const { small, fine } = neuronResolutions();
  const res = neuronRes || small;
  socket.send({
    type: 'subscribe',
    grid_resolution: Math.min(ui.gridResolution, lim.max_live_grid_resolution),
    fps: Math.min(FPS, lim.max_fps),
    neurons: true,
    neuron_resolution: res,
    neuron_fps: Math.min(res === fine ? DETAIL_FPS : THUMB_FPS, lim.max_fps),
    stats: false,
    ...extras(),
  });
}

/** While a unit is hovered, stream unit grids at the finest resolution for the big view. */
export function setNeuronDetail(on) {
  if (!isOwner()) return;
  clearTimeout(detailTimer);
  const { small, fine } = neuronResolutions();
  const want = on ? fine : small;
  if (want === (neuronRes || small)) return;
  detailTimer = setTimeout(() => { neuronRes = want; subscribe(); }, on ? 0 : 800);
}

/** The diagram's weights changed (a reset, a new network, an edit): fetch them soon. */
export function wantWeights() {
  weightsWanted = true;
}

/** The server refused a watcher the model: stop asking. */
export function denyWeights() {
  weightsDenied = true;
}

/** Ask for the model while training (or when something changed it), a few times a second. */
export function pollWeights() {
  setInterval(() => {
    if (!isOpen() || weightsDenied) return;
    if (session.running || weightsWanted) {
      weightsWanted = false;
      socket.send({ type: 'get_model' });
    }
  }, WEIGHTS_INTERVAL);
}
