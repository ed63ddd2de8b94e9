// The session's state drawn on the page: a new config into the controls and the diagram, the
// play button, the URL hash, and the page-only settings (large type, language, view options).

import { app, isOwner, limits, subscribe } from './app.js';
import { settleDraft } from './edits.js';
import { encodeHash, getPath } from './state.js';
import { t, setLanguage, translatePage, language } from './i18n.js';
import { retranslateStudent } from './student.js';

const $ = (id) => document.getElementById(id);

/** Keep the URL hash in step with the config, so a copied URL restores everything. */
export function writeHash() {
  if (!isOwner() || !app.config) return;
  const hash = encodeHash(app.config, { ...app.ui, lang: language() }, app.options?.defaults);
  if (hash !== location.hash) history.replaceState(null, '', location.pathname + location.search + hash);
}

export function applyConfig(config) {
  app.config = config;
  settleDraft(config);
  app.controls.update(config);
  const hidden = config.network?.hidden_layers || [];
  $('layer-count').textContent = t('layers.count', { n: hidden.length });
  $('btn-add-layer').disabled = !isOwner() || hidden.length >= limits().max_hidden_layers;
  $('btn-remove-layer').disabled = !isOwner() || hidden.length === 0;
  refreshDiagram();
  document.body.classList.toggle('regression', isRegression(config));
  app.instruments?.onConfig(config);
  writeHash();
}

/** A regression session (plane, multi_gaussian with mse): no classes, no accuracy. */
function isRegression(config) {
  const info = app.options?.datasets?.[getPath(config, 'dataset.name')];
  return !!(info && info.regression);
}

export function refreshDiagram() {
  const c = app.config;
  if (!c) return;
  const net = c.network || {};
  const hidden = net.hidden_layers || [];
  const acts = Array.isArray(net.activation) ? net.activation : hidden.map(() => net.activation);
  app.diagram.setStructure({
    features: net.features,
    hidden,
    activations: acts,
    classes: app.data?.classes || c.dataset?.classes,
    activationChoices: app.options?.activations,
    maxUnits: limits().max_units,
  });
  app.diagram.setReadOnly(!isOwner());
  app.weightsWanted = true;
}

export function setRunning(r) {
  app.running = !!r;
  const b = $('btn-play');
  b.classList.toggle('playing', app.running);
  b.setAttribute('aria-pressed', String(app.running));
  b.title = t(app.running ? 'btn.pause' : 'btn.play');
  b.setAttribute('aria-label', b.title);
}

/** Change a page-only setting (kept in the hash, never sent to the server). */
export function setUi(name, value) {
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

export function setLang(l) {
  setLanguage(l);
  translatePage(document);
  $('btn-lang').textContent = language() === 'fr' ? 'EN' : 'FR';
  app.lossChart?.setLabels([t('chart.train'), t('chart.validation')]);
  app.accChart?.setLabels([t('chart.train'), t('chart.validation')]);
  setRunning(app.running);
  app.instruments?.retranslate();
  app.lessons?.retranslate();
  app.classroom?.retranslate();
  retranslateStudent();
  app.counters?.show();
  if (app.config) applyConfig(app.config);
  if (app.boundary) app.boundary.resize(); // axis ticks
  writeHash();
}

/** Everything sized from its box measures again (a resize, large type). */
export function relayout() {
  measureHeader();
  app.boundary.resize();
  app.diagram.key = '';
  refreshDiagram();
  app.lossChart.measure();
  app.accChart.measure();
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
