// The page's buttons, file inputs, keyboard shortcuts and the clicks on the plot, wired once
// at start-up (with the panels they act on: the plot and the controls' class picker).

import { isOwner, send } from './channel.js';
import { editLayers, addLayer, editPoints, regenerate } from './edits.js';
import { download, notify } from './feedback.js';
import { uploadCsv, importModel } from './files.js';
import { toCsv } from './csv.js';
import { t, language } from './i18n.js';
import { setLang, setUi } from './view.js';
import { exportModel } from './live.js';
import { wireExportCode } from './export-code.js';
import { session } from './session.js';
import { ui } from './page.js';

const $ = (id) => document.getElementById(id);

/** The link students open to follow this session: from the server's public URL when known. */
export function watchUrl() {
  const base = session.options?.public_url || location.origin;
  return `${base}/?watch=${encodeURIComponent(session.watchToken || '')}`;
}

/** @param {object} panels {boundary, controls} */
export function wireButtons({ boundary, controls }) {
  wireTransport();
  wireFiles(boundary);
  wireShare();
  $('btn-large').addEventListener('click', () => setUi('large', !ui.large));
  $('btn-lang').addEventListener('click', () => setLang(language() === 'fr' ? 'en' : 'fr'));
  $('log-scale').addEventListener('change', (e) => setUi('logScale', e.target.checked));
  const pts = $('points');
  pts.addEventListener('pointerdown', (e) => pointerOnPlot(e, boundary, controls));
  pts.addEventListener('contextmenu', (e) => e.preventDefault());
  document.addEventListener('keydown', onKey);
}

function wireTransport() {
  $('btn-play').addEventListener('click', () => send({ type: session.running ? 'pause' : 'play' }));
  $('btn-step').addEventListener('click', () => send({ type: 'step', steps: 1 }));
  $('btn-reset').addEventListener('click', () => send({ type: 'reset' }));
  $('btn-reseed').addEventListener('click', () => send({ type: 'reseed' }));
  $('btn-regenerate').addEventListener('click', regenerate);
  $('btn-clear').addEventListener('click', () => editPoints({ type: 'clear_points' }));
  $('btn-add-layer').addEventListener('click', addLayer);
  $('btn-remove-layer').addEventListener('click', () => editLayers((h) => { h.pop(); }));
}

function wireFiles(boundary) {
  const onFile = (id, fn) => $(id).addEventListener('change', (e) => {
    const f = e.target.files[0];
    if (f) fn(f);
    e.target.value = '';
  });
  onFile('csv-input', uploadCsv);
  onFile('model-input', importModel);
  $('btn-download').addEventListener('click', () => {
    if (!session.data) { notify(t('msg.no_data'), 'warn'); return; }
    download('mlp-playground-data.csv', toCsv(session.data), 'text/csv');
  });
  $('btn-png').addEventListener('click', () => {
    boundary.composite(800).toBlob((blob) => download('mlp-playground-boundary.png', blob));
  });
  $('btn-export').addEventListener('click', exportModel);
  wireExportCode();
}

/** The "share to watch" dialog: the read-only link to this live session. */
export function openWatchShare() {
  const url = watchUrl();
  const a = $('watch-link');
  a.href = url;
  a.textContent = url;
  $('share-dialog').showModal();
}

function wireShare() {
  $('btn-share').addEventListener('click', openWatchShare);
  $('btn-close-share').addEventListener('click', () => $('share-dialog').close());
  $('btn-copy-link').addEventListener('click', async () => {
    try { await navigator.clipboard.writeText($('watch-link').href); $('btn-copy-link').textContent = t('btn.copied'); } catch { /* clipboard may be denied */ }
  });
}

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const tag = e.target.tagName;
  if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA' || e.target.isContentEditable) return;
  if (document.querySelector('dialog[open]') || !$('join-view').hidden || !$('class-view').hidden) return;
  if (e.key === ' ') { e.preventDefault(); $('btn-play').click(); }
  else if (e.key === 's' || e.key === 'S') $('btn-step').click();
  else if (e.key === 'r' || e.key === 'R') $('btn-reset').click();
}

// A click adds a point of the selected class (shift: the next class); a right-click, an
// alt-click or the eraser removes the nearest point within 4 % of the domain's width.
const ERASE_RADIUS = 0.04;

function pointerOnPlot(e, boundary, controls) {
  if (!isOwner() || !session.config) return;
  e.preventDefault();
  const p = boundary.toData(e.clientX, e.clientY);
  const [x0, x1] = boundary.domain;
  if (e.button === 2 || e.altKey || controls.eraser) {
    editPoints({ type: 'remove_point', point: p, radius: (x1 - x0) * ERASE_RADIUS });
  } else {
    const K = session.data?.classes || session.config.dataset?.classes;
    const k = e.shiftKey ? (controls.selectedClass + 1) % K : controls.selectedClass;
    editPoints({ type: 'add_point', point: p, label: k });
  }
}
