// The user's edits on their way to the server, and what the page must remember about them.
// Two quick clicks on "+" must add two layers, and "all relu" right after "+" must cover the
// new layer too, even before the server has answered the first click: the page keeps a draft
// of the network it asked for until a config shows it. And the page remembers whether the
// points are the user's own (drawn, cleared, a CSV, a saved run) rather than the generator's,
// so a new session after a lost one gets them back. This module is their only writer.

import { send } from './channel.js';
import { session } from './session.js';

const DRAFTED = ['hidden_layers', 'activation', 'features']; // edits that build on the last one
const DRAFT_TTL = 2000; // ms: an edit unanswered this long was lost (rate limit, reconnect)

let networkDraft = null; // {network, at}: the network asked for, until a config shows it
let dataCustom = false; // the points are the user's, not the generator's

/** True when the points are the user's own (a reconnection must send them again). */
export function isDataCustom() {
  return dataCustom;
}

/** Send a partial config (a user's change), recording a network edit in the draft. */
export function configure(partial) {
  if (partial.dataset) dataCustom = false;
  if (partial.network) draftEdit(partial.network);
  send({ type: 'configure', config: partial });
}

/** A points edit (add_point, remove_point, set_data, clear_points): the points are the user's now. */
export function editPoints(msg) {
  dataCustom = true;
  send(msg);
}

/** New points from the generator. */
export function regenerate() {
  dataCustom = false;
  send({ type: 'regenerate' });
}

/** Points that came from elsewhere (a saved run): the user's, as far as a new session goes. */
export function pointsLoaded() {
  dataCustom = true;
}

/** Forget the drafted network: a (re)connection, a refused edit, an imported model. */
export function dropDraft() {
  networkDraft = null;
}

/** The network as the user last asked for it: the server's config, or the edit on its way. */
export function draftNetwork() {
  const d = networkDraft;
  if (d && performance.now() - d.at > DRAFT_TTL) networkDraft = null;
  return networkDraft ? networkDraft.network : session.config.network;
}

function draftEdit(network) {
  if (!session.config || !DRAFTED.some((k) => k in network)) return;
  const next = { ...draftNetwork(), ...network };
  if (typeof next.activation === 'string') next.activation = next.hidden_layers.map(() => network.activation);
  networkDraft = { network: next, at: performance.now() };
}

/** A config from the server settles the draft once it shows the edit (or the edit is old). */
export function settleDraft(config) {
  const d = networkDraft;
  if (!d) return;
  const same = (k) => JSON.stringify(config.network?.[k]) === JSON.stringify(d.network[k]);
  if (DRAFTED.every(same) || performance.now() - d.at > DRAFT_TTL) networkDraft = null;
}

/** Apply fn(hiddenLayers, activations) to copies of the drafted network and send the result. */
export function editLayers(fn) {
  const net = draftNetwork();
  const h = [...net.hidden_layers];
  const acts = Array.isArray(net.activation) ? [...net.activation] : h.map(() => net.activation);
  fn(h, acts);
  // A new layer repeats its neighbour's activation (the server's own rule for new layers).
  const fallback = session.options.defaults.network.activation;
  while (acts.length < h.length) acts.push(acts[acts.length - 1] || [].concat(fallback)[0]);
  acts.length = h.length;
  configure({ network: { hidden_layers: h, activation: acts } });
}

/** The "+ layer" button: a copy of the last hidden layer, or the default first layer. */
export function addLayer() {
  editLayers((h) => { h.push(h.length ? h[h.length - 1] : session.options.defaults.network.hidden_layers[0]); });
}
