// What the page tells the user outside the panels: toasts, the connection banner, the
// tooltip, and a text setter that skips unchanged values. DOM work happens only when called.

import { t } from './i18n.js';

const $ = (id) => document.getElementById(id);

/** A toast in the corner (at most five kept); `ms` 0 keeps it until closed. */
export function notify(text, kind = 'info', ms = 6000) {
  const host = $('messages');
  const m = document.createElement('div');
  m.className = `message ${kind}`;
  m.setAttribute('data-testid', `message-${kind}`);
  m.textContent = text;
  const close = document.createElement('button');
  close.className = 'close';
  close.textContent = '×';
  close.setAttribute('aria-label', t('btn.close'));
  close.addEventListener('click', () => m.remove());
  m.append(close);
  host.append(m);
  while (host.children.length > 5) host.firstChild.remove();
  if (ms) setTimeout(() => m.remove(), ms);
  return m;
}

export function banner(text) {
  const b = $('banner');
  b.hidden = !text;
  b.textContent = text || '';
}

export function tooltip(text, x, y) {
  const tip = $('tooltip');
  if (!text) { tip.hidden = true; return; }
  tip.hidden = false;
  tip.textContent = text;
  tip.style.left = `${x + 14}px`;
  tip.style.top = `${y + 14}px`;
}

const textCache = new Map();

/** Set an element's text only when it changed (no needless style/layout/paint work). */
export function setText(id, text) {
  if (textCache.get(id) === text) return;
  textCache.set(id, text);
  $(id).textContent = text;
}

/** Save `text` (or a Blob) as a file named `name`. */
export function download(name, text, type) {
  const blob = text instanceof Blob ? text : new Blob([text], { type });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
