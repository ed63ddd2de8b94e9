// The session's state drawn on the page: a new config into the controls and the diagram, the
// play button, the URL hash, and the page-only settings (large type, language, view options).
// The panels it draws into are handed over once by initView (main.js).

import { isOwner, limits, subscribe, wantWeights } from './channel.js';
import { settleDraft } from './edits.js';
import { encodeHash, getPath } from './state.js';
import { t, setLanguage, translatePage, language } from './i18n.js';
import { retranslateStudent } from './student.js';
import * as sessionState from './session.js';
import { session } from './session.js';
import { setUiValue, ui } from './page.js';

const $ = (id) => document.getElementById(id);

/** {boundary, diagram, controls, instruments, lossChart, accChart, counters, lessons, classroom} */
let panels = null;

export function initView(p) {
  panels = p;
}

/** Keep the URL hash in step with the config, so a copied URL restores everything. */
export function writeHash() {
  if (!isOwner() || !session.config) return;
  const hash = encodeHash(session.config, { ...ui, lang: language() }, session.options?.defaults);
  if (hash !== location.hash) history.replaceState(null, '', location.pathname + location.search + hash);
}

/** The server's config: into the session state, the controls, the diagram and the hash. */
export function applyConfig(config) {
  sessionState.setConfig(config);
  settleDraft(config);
  panels.controls.update(config);
  const hidden = config.network?.hidden_layers || [];
  $('layer-count').textContent = t('layers.count', { n: hidden.length });
  $('btn-add-layer').disabled = !isOwner() || hidden.length >= limits().max_hidden_layers;
  $('btn-remove-layer').disabled = !isOwner() || hidden.length === 0;
  refreshDiagram();
  document.body.classList.toggle('regression', isRegression(config));
  panels.instruments.onConfig(config);
  writeHash();
}

/** A regression session (plane, multi_gaussian with mse): no classes, no accuracy. */
function isRegression(config) {
  const info = session.options?.datasets?.[getPath(config, 'dataset.name')];
  return !!(info && info.regression);
}

export function refreshDiagram() {
  const c = session.config;
  if (!c) return;
  const net = c.network || {};
  const hidden = net.hidden_layers || [];
  const acts = Array.isArray(net.activation) ? net.activation : hidden.map(() => net.activation);
  panels.diagram.setStructure({
    features: net.features,
    hidden,
    activations: acts,
    classes: session.data?.classes || c.dataset?.classes,
    activationChoices: session.options?.activations,
    maxUnits: limits().max_units,
  });
  panels.diagram.setReadOnly(!isOwner());
  wantWeights();
}

/** Running or paused, as the server said: into the session state and the play button. */
export function setRunning(r) {
  sessionState.setRunning(r);
  const b = $('btn-play');
  b.classList.toggle('playing', session.running);
  b.setAttribute('aria-pressed', String(session.running));
  b.title = t(session.running ? 'btn.pause' : 'btn.play');
  b.setAttribute('aria-label', b.title);
}

/** Change a page-only setting (kept in the hash, never sent to the server). */
export function setUi(name, value) {
  setUiValue(name, value);
  if (name === 'showValidation') panels.boundary.setShowValidation(value);
  if (name === 'discretize') panels.boundary.setDiscrete(value);
  if (name === 'logScale') { panels.lossChart.setLog(value); $('log-scale').checked = !!value; }
  if (name === 'gridResolution') subscribe();
  if (name === 'large') {
    document.documentElement.classList.toggle('large', !!value);
    $('btn-large').setAttribute('aria-pressed', String(!!value));
    requestAnimationFrame(relayout);
  }
  writeHash();
}

export function setLang(l) {
  setLanguage(l);
  translatePage(document);
  $('btn-lang').textContent = language() === 'fr' ? 'EN' : 'FR';
  panels.lossChart.setLabels([t('chart.train'), t('chart.validation')]);
  panels.accChart.setLabels([t('chart.train'), t('chart.validation')]);
  setRunning(session.running);
  panels.instruments.retranslate();
  panels.lessons.retranslate();
  panels.classroom.retranslate();
  retranslateStudent();
  panels.counters.show();
  if (session.config) applyConfig(session.config);
  panels.boundary.resize(); // axis ticks
  writeHash();
}

/** Everything sized from its box measures again (a resize, large type). */
export function relayout() {
  measureHeader();
  panels.boundary.resize();
  panels.diagram.key = '';
  refreshDiagram();
  panels.lossChart.measure();
  panels.accChart.measure();
}

/**
 * The height above the panels (the header, and a watcher's note), for the CSS that fits the
 * plot and the charts on the first screen.
 */
export function measureHeader() {
  const note = $('watch-note');
  const lesson = $('lesson-panel');
  // The lesson panel sits above the panels too (its margin included).
  const lessonH = lesson && !lesson.hidden ? lesson.getBoundingClientRect().height + parseFloat(getComputedStyle(lesson).marginTop) : 0;
  const h = $('topbar').getBoundingClientRect().height + (note.hidden ? 0 : note.getBoundingClientRect().height) + lessonH;
  document.documentElement.style.setProperty('--header-h', `${Math.ceil(h)}px`);
}
