// Network edits on their way to the server. Two quick clicks on "+" must add two layers, and
// "all relu" right after "+" must cover the new layer too, even before the server has answered
// the first click: the page keeps a draft of the network it asked for until a config shows it.

import { app, send } from './app.js';

const DRAFTED = ['hidden_layers', 'activation', 'features']; // edits that build on the last one
const DRAFT_TTL = 2000; // ms: an edit unanswered this long was lost (rate limit, reconnect)

/** Send a partial config (a user's change), recording a network edit in the draft. */
export function configure(partial) {
  if (partial.dataset) app.dataCustom = false;
  if (partial.network) draftEdit(partial.network);
  send({ type: 'configure', config: partial });
}

/** The network as the user last asked for it: the server's config, or the edit on its way. */
export function draftNetwork() {
  const d = app.networkDraft;
  if (d && performance.now() - d.at > DRAFT_TTL) app.networkDraft = null;
  return app.networkDraft ? app.networkDraft.network : app.config.network;
}

function draftEdit(network) {
  if (!app.config || !DRAFTED.some((k) => k in network)) return;
  const next = { ...draftNetwork(), ...network };
  if (typeof next.activation === 'string') next.activation = next.hidden_layers.map(() => network.activation);
  app.networkDraft = { network: next, at: performance.now() };
}

/** A config from the server settles the draft once it shows the edit (or the edit is old). */
export function settleDraft(config) {
  const d = app.networkDraft;
  if (!d) return;
  const same = (k) => JSON.stringify(config.network?.[k]) === JSON.stringify(d.network[k]);
  if (DRAFTED.every(same) || performance.now() - d.at > DRAFT_TTL) app.networkDraft = null;
}

/** Apply fn(hiddenLayers, activations) to copies of the drafted network and send the result. */
export function editLayers(fn) {
  const net = draftNetwork();
  const h = [...net.hidden_layers];
  const acts = Array.isArray(net.activation) ? [...net.activation] : h.map(() => net.activation);
  fn(h, acts);
  // A new layer repeats its neighbour's activation (the server's own rule for new layers).
  const fallback = app.options.defaults.network.activation;
  while (acts.length < h.length) acts.push(acts[acts.length - 1] || [].concat(fallback)[0]);
  acts.length = h.length;
  configure({ network: { hidden_layers: h, activation: acts } });
}

/** The "+ layer" button: a copy of the last hidden layer, or the default first layer. */
export function addLayer() {
  editLayers((h) => { h.push(h.length ? h[h.length - 1] : app.options.defaults.network.hidden_layers[0]); });
}
