// The student's page, `/c/<code>`: a nickname, then the student's own live session in that
// class (/ws?class=<code>&name=<nickname>). The session id and its resume key are kept in
// sessionStorage, so a reload resumes the same session (/ws?session=<id>&resume_key=<key>,
// the key added by socket.js); the teacher's pushes arrive as
// `event` "pushed" and show as a toast. Nicknames are only ever set as text.

import { notify } from './feedback.js';
import { t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const NAME_MAX = 24;

let student = null; // {code, name} on a student's page
let unknown = false; // the class is unknown or over: no more retries

/** True once the server said the class is unknown (or over). */
export function classIsUnknown() {
  return unknown;
}

/** The class code in a `/c/<code>` path, or null. */
export function classCodeFromPath(path = location.pathname) {
  const m = /^\/c\/([A-Za-z0-9]{1,16})\/?$/.exec(path);
  return m ? m[1].toUpperCase() : null;
}

const key = (code) => `mlpg.student.${code}`;

function stored(code) {
  try {
    const s = JSON.parse(sessionStorage.getItem(key(code)) || 'null');
    return s && typeof s.name === 'string' ? s : null;
  } catch {
    return null;
  }
}

function store(code, value) {
  try { sessionStorage.setItem(key(code), JSON.stringify(value)); } catch { /* private mode */ }
}

/**
 * Set the page up as a student of class `code`; `connect(urlFor)` opens the live socket with
 * the given URL builder once the student has a nickname (at once after a reload).
 */
export function startStudent(code, connect) {
  student = { code, name: null };
  document.body.classList.add('student');
  $('join-code').textContent = t('student.code', { code });
  const urlFor = (resume) => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // With the class and the nickname even when resuming: a session the server no longer
    // has (expired) is then replaced by a new one in the same class, not a lone session.
    const q = `class=${encodeURIComponent(code)}&name=${encodeURIComponent(student.name)}`;
    return `${proto}//${location.host}/ws?${resume ? `session=${encodeURIComponent(resume)}&` : ''}${q}`;
  };
  const begin = (name, session) => {
    student.name = name;
    showBadge();
    $('join-view').hidden = true;
    connect(urlFor, session);
  };
  const known = stored(code);
  if (known) { begin(known.name, known.session ? { id: known.session, key: known.key } : null); return; }
  $('join-view').hidden = false;
  const input = $('join-name');
  input.maxLength = NAME_MAX;
  input.focus();
  $('join-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (name.length < 1 || name.length > NAME_MAX) { input.focus(); return; }
    store(code, { name, session: null });
    begin(name, null);
  }, { once: true });
}

function showBadge() {
  const b = $('class-badge');
  b.hidden = false;
  b.textContent = `${t('class.badge', { code: student.code })} · ${student.name}`;
}

/** hello: keep the session id so a reload gets this same session back. */
export function studentHello(msg) {
  if (!student || !msg.session_id) return;
  store(student.code, { name: student.name, session: msg.session_id, key: msg.resume_key });
}

/** The class is unknown or over: a clear message in place of the page, no more retries. */
export function classUnknown() {
  if (!student) return;
  try { sessionStorage.removeItem(key(student.code)); } catch { /* private mode */ }
  unknown = true;
  $('join-view').hidden = false;
  $('join-name').disabled = true;
  $('join-form').querySelector('button').disabled = true;
  const err = $('join-error');
  err.hidden = false;
  err.textContent = t('student.unknown');
}

/** The teacher pushed settings (or a run): a toast naming what changed. */
export function onPushed(ev) {
  // A push that changed nothing (the teacher sent settings this session already had) says
  // so, rather than listing an empty set.
  const changed = Array.isArray(ev.changed) ? ev.changed : [];
  const text = changed.length
    ? t('student.pushed', { changed: changed.join(', ') })
    : t('student.pushed_same');
  notify(text, 'info', 8000).setAttribute('data-testid', 'pushed-toast');
}

export function retranslateStudent() {
  if (!student) return;
  $('join-code').textContent = t('student.code', { code: student.code });
  if (student.name) showBadge();
  if (unknown) $('join-error').textContent = t('student.unknown');
}
