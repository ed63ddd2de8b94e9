// Saved runs: the "Save & share" dialog (live `save` -> a link to a snapshot of the session),
// the runs this browser saved (with their delete tokens, in localStorage), and opening
// `/r/<id>`: the run loaded into a fresh session with `load_run`, paused, ready to train on.

import { isOpen, isOwner, request } from './channel.js';
import { pointsLoaded } from './edits.js';
import { notify } from './feedback.js';
import { t } from './i18n.js';
import { el } from './dom.js';
import { session } from './session.js';

const $ = (id) => document.getElementById(id);
const STORE_KEY = 'mlpg.savedRuns';
const MAX_KEPT = 100; // entries in the list: older ones drop off (their runs stay on the server)

let classroom = null; // the teacher's class page (a saved run can be pushed to the class)
let pendingTitle = null; // the title of the save on its way
let loaded = null; // {id, title}: the run this page opened (/r/<id>)

/** The saved run this page opened, or null. */
export function loadedRun() {
  return loaded;
}

/** The id in a `/r/<id>` path, or null. */
export function runIdFromPath(path = location.pathname) {
  const m = /^\/r\/([A-Za-z0-9_-]{1,32})\/?$/.exec(path);
  return m ? m[1] : null;
}

/** A link others can open: the server's public URL when it has one, else this origin. */
export function publicLink(path) {
  return `${session.options?.public_url || location.origin}${path}`;
}

export function savedRuns() {
  try {
    const list = JSON.parse(localStorage.getItem(STORE_KEY) || '[]');
    return Array.isArray(list) ? list.filter((r) => r && typeof r.id === 'string') : [];
  } catch {
    return [];
  }
}

function keepRuns(list) {
  try { localStorage.setItem(STORE_KEY, JSON.stringify(list.slice(0, MAX_KEPT))); } catch { /* private mode */ }
}

/** Called by live.js on the server's `saved` reply. */
export function onSaved(msg) {
  const entry = { id: msg.id, url: msg.url, delete_token: msg.delete_token, title: pendingTitle || '', created: new Date().toISOString() };
  pendingTitle = null;
  keepRuns([entry, ...savedRuns().filter((r) => r.id !== msg.id)]);
  const link = publicLink(msg.url || `/r/${msg.id}`);
  const a = $('run-link');
  a.href = link;
  a.textContent = link;
  $('save-result').hidden = false;
  $('btn-save-run').disabled = false;
  $('btn-save-run').textContent = t('save.do');
  $('btn-copy-run').textContent = t('btn.copy');
  renderList();
}

/** A refused save (rate limit, store full, run too large): say why, keep the dialog usable. */
export function onSaveError(e) {
  $('btn-save-run').disabled = false;
  $('btn-save-run').textContent = t('save.do');
  notify(t('save.failed', { message: e.message }), 'error', 12000);
}

async function deleteRun(entry) {
  let message = null;
  try {
    const r = await fetch(`/runs/${encodeURIComponent(entry.id)}`, { method: 'DELETE', headers: { 'X-Delete-Token': entry.delete_token } });
    if (!r.ok && r.status !== 404) message = `HTTP ${r.status}`;
  } catch (e) {
    message = e.message;
  }
  if (message) { notify(t('save.delete_failed', { message }), 'error', 10000); return; }
  keepRuns(savedRuns().filter((r) => r.id !== entry.id));
  renderList();
  notify(t('save.deleted'), 'info', 3000);
}

function renderList() {
  const ul = $('saved-runs');
  ul.replaceChildren();
  const list = savedRuns();
  if (!list.length) { ul.append(el('li', { class: 'muted' }, t('save.none'))); return; }
  for (const entry of list) {
    const when = entry.created ? new Date(entry.created).toLocaleString(document.documentElement.lang) : '';
    const open = el('a', { href: entry.url || `/r/${entry.id}`, testid: 'saved-run-open', target: '_blank', rel: 'noopener' }, t('save.open'));
    const del = el('button', { testid: 'saved-run-delete' }, t('save.delete'));
    del.addEventListener('click', () => deleteRun(entry));
    const extra = [];
    if (classroom?.connected) {
      // With the class page open: every student gets this run (data and weights included).
      const push = el('button', { testid: 'saved-run-push' }, t('save.push'));
      push.addEventListener('click', () => { if (classroom.push({ run: entry.id })) notify(t('class.pushed_all'), 'info', 2500); });
      extra.push(push);
    }
    // Titles are the user's own text: textContent only (el() appends strings as text nodes).
    ul.append(el('li', { testid: 'saved-run', 'data-run-id': entry.id },
      el('span', { class: 'run-title' }, entry.title || t('save.untitled')),
      el('span', { class: 'run-date' }, when), open, ...extra, del));
  }
}

/** The dialog's buttons; `klass` is the teacher's class page (its push). */
export function wireSave(openWatchShare, klass) {
  classroom = klass;
  $('btn-save').addEventListener('click', () => {
    $('save-result').hidden = true;
    $('btn-save-run').disabled = !isOwner();
    renderList();
    $('save-dialog').showModal();
    $('save-title').focus();
  });
  $('save-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (!isOwner() || !isOpen()) return;
    const title = $('save-title').value.trim();
    pendingTitle = title;
    $('btn-save-run').disabled = true;
    $('btn-save-run').textContent = t('save.saving');
    request(title ? { type: 'save', title } : { type: 'save' });
  });
  $('btn-copy-run').addEventListener('click', async () => {
    try { await navigator.clipboard.writeText($('run-link').href); $('btn-copy-run').textContent = t('btn.copied'); } catch { /* clipboard denied */ }
  });
  $('btn-close-save').addEventListener('click', () => $('save-dialog').close());
  $('btn-watch-link').addEventListener('click', () => { $('save-dialog').close(); openWatchShare(); });
}

/**
 * On the first hello of a `/r/<id>` page: load the run into this fresh session. The run's
 * config, data, weights and history come back as the usual messages; training stays paused.
 */
export function loadRunAfterHello(runId) {
  request({ type: 'pause' });
  request({ type: 'load_run', id: runId });
}

/** The server's `run_loaded` event: the run's points are custom data now; say what opened. */
export function onRunLoaded(ev) {
  pointsLoaded();
  loaded = { id: ev.id, title: ev.title || '' };
  notify(t('run.loaded', { title: ev.title || t('save.untitled') }), 'info', 6000);
}

/** A `load_run` error (an unknown id): a clear message; the session stays as it was. */
export function onLoadRunError(e) {
  const text = e.code === 'not_found' ? t('run.missing') : t('err.generic', { message: e.message });
  notify(text, 'error', 0);
}
