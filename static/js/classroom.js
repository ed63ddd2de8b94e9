// The teacher's class page: POST /classes (code and teacher token kept in localStorage), the
// join URL, the code in very large letters and its QR code, and the wall of live thumbnails
// from /ws/class/{code}?token=... (`roster` messages and kind 5 frames), sortable as a
// leaderboard. A click on a student opens their session full size, read-only, in a new tab;
// "push" sends the teacher's settings (or a lesson step) to every student.

import { notify } from './feedback.js';
import { session } from './session.js';
import { t, fmtPercent, formatInt } from './i18n.js';
import { decisionLUT, divergingLUT } from './colors.js';
import { el, pixelCanvas } from './dom.js';
import { parseFrame } from './socket.js';

const $ = (id) => document.getElementById(id);
const STORE_KEY = 'mlpg.class';
const ID_BYTES = 22; // a kind 5 frame's session id, before its cells (server/mlp_playground/live/frames.py)
const THUMB_RES = 32;
const THUMB_FPS = 2;
const UNLISTED_TILE_MS = 15000; // a thumbnail's tile waits this long for the roster to list it

export class Classroom {
  /** @param {object} cb {onConnection()}: the class page connected or dropped (the lesson panel's push buttons follow) */
  constructor(cb = {}) {
    this.cb = cb;
    this.klass = null; // {code, teacher_token, join_url}
    this.ws = null;
    this.connected = false;
    this.students = []; // the last roster, in join order
    this.unseen = []; // members on servers this one cannot reach now (Redis down)
    this.tiles = new Map(); // session id -> {root, canvas, name, acc, meta, classes}
    this.luts = { 2: decisionLUT(2), many: decisionLUT(3), regression: divergingLUT() };
    this.retry = 0;
  }

  wire() {
    $('btn-class').addEventListener('click', () => this.open());
    $('class-close').addEventListener('click', () => this.hide());
    $('class-new').addEventListener('click', () => this.open(true));
    $('class-sort').addEventListener('change', () => this.renderWall());
    $('class-push').addEventListener('click', () => {
      if (session.config && this.push({ config: session.config })) notify(t('class.pushed_all'), 'info', 2500);
    });
  }

  /** Show the class page: the stored class if there is one (and `fresh` is false), else a new one. */
  async open(fresh = false) {
    let klass = fresh ? null : readStored();
    this.fromStore = !!klass;
    if (!klass) {
      klass = await createClass();
      if (!klass) return;
      try { localStorage.setItem(STORE_KEY, JSON.stringify(klass)); } catch { /* private mode */ }
      this.close();
      this.students = [];
      this.tiles.clear();
      $('class-wall').replaceChildren();
    }
    this.klass = klass;
    this.show();
    if (!this.ws) this.connect();
  }

  show() {
    const url = joinLink(this.klass);
    $('class-code').textContent = this.klass.code;
    $('class-url').textContent = url.replace(/^https?:\/\//, '');
    $('class-qr').src = `/qr.svg?text=${encodeURIComponent(url)}`;
    $('class-view').hidden = false;
    document.body.classList.add('class-open');
    this.renderWall();
  }

  hide() {
    $('class-view').hidden = true;
    document.body.classList.remove('class-open');
    window.dispatchEvent(new Event('resize'));
  }

  connect() {
    const { code, teacher_token: token } = this.klass;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/ws/class/${encodeURIComponent(code)}?token=${encodeURIComponent(token)}`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let greeted = false;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'subscribe', thumbnail_resolution: THUMB_RES, thumbnail_fps: THUMB_FPS }));
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') { this.onThumbnail(ev.data); return; }
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === 'roster') {
        if (!greeted) { greeted = true; this.connected = true; this.retry = 0; this.cb.onConnection?.(); }
        this.onRoster(msg);
      } else if (msg.type === 'error') {
        notify(t('err.generic', { message: msg.message }), 'error', 8000);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.connected = false;
      this.cb.onConnection?.();
      if (ev.code === 1008 && !greeted && this.fromStore) {
        // The class this browser remembered is gone (a restarted server): start a new one.
        this.fromStore = false;
        this.klass = null;
        this.open(true);
        return;
      }
      if (ev.code === 1008 || ev.code === 1000) { this.ended(); return; }
      this.retry += 1;
      setTimeout(() => { if (!this.ws && this.klass) this.connect(); }, Math.min(5000, 300 * 2 ** this.retry));
    };
  }

  close() {
    const ws = this.ws;
    this.ws = null;
    this.connected = false;
    ws?.close(1000);
  }

  /** The class expired or the token is wrong: forget it, say so, offer a new one. */
  ended() {
    try { localStorage.removeItem(STORE_KEY); } catch { /* private mode */ }
    this.klass = null;
    if (!$('class-view').hidden) notify(t('class.ended'), 'warn', 0);
    this.hide();
  }

  /** Send a push ({config} or {run}) to every student; false when the class is not open. */
  push(what) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ type: 'push', ...what }));
    return true;
  }

  onRoster(msg) {
    this.students = msg.students || [];
    this.unseen = msg.cluster === 'unavailable' ? (msg.unseen || []) : [];
    const seen = new Set();
    for (const s of this.students) {
      seen.add(s.session_id);
      const tile = this.tile(s);
      tile.name.textContent = s.name; // a nickname is text, never HTML
      tile.root.title = s.name; // the whole name when the tile cuts it short
      tile.acc.textContent = s.validation_accuracy == null ? '–' : fmtPercent(s.validation_accuracy);
      const params = s.parameters == null ? '' : t('class.params', { n: s.parameters });
      const state = s.connected === false ? t('class.offline') : (s.running ? '' : t('class.paused'));
      tile.meta.textContent = [`${t('m.step')} ${formatInt(s.step ?? 0)}`, params, state].filter(Boolean).join(' · ');
      tile.root.classList.toggle('offline', s.connected === false);
      tile.watch = s.watch_token || null;
      tile.listed = true;
    }
    // A student of another server can send a thumbnail before the roster lists them: keep
    // such a tile (painted, not shown) for a while, or a paused student's only thumbnail
    // would be lost. A tile a roster listed goes as soon as one no longer does.
    const now = performance.now();
    for (const [id, tile] of [...this.tiles]) {
      if (seen.has(id) || (!tile.listed && now - tile.born < UNLISTED_TILE_MS)) continue;
      tile.root.remove();
      this.tiles.delete(id);
    }
    this.renderWall();
  }

  tile(s) {
    let tile = this.tiles.get(s.session_id);
    if (tile) return tile;
    const canvas = el('canvas', { width: THUMB_RES, height: THUMB_RES, testid: 'student-thumb' });
    const name = el('span', { class: 'name', testid: 'student-name' });
    const acc = el('span', { class: 'acc', testid: 'student-acc' });
    const meta = el('span', { class: 'meta' });
    const who = el('span', { class: 'who' }, name); // the leaderboard's rank goes before the name
    const root = el('button', { class: 'student-tile', testid: 'student-tile', type: 'button', 'data-session': s.session_id }, canvas, who, acc, meta);
    tile = { root, canvas, name, acc, meta, watch: null, painted: false, listed: false, born: performance.now() };
    root.addEventListener('click', () => {
      if (tile.watch) window.open(`/?watch=${encodeURIComponent(tile.watch)}`, '_blank', 'noopener');
    });
    this.tiles.set(s.session_id, tile);
    return tile;
  }

  /** The wall in the chosen order; the leaderboard ranks accuracy, then fewest parameters. */
  renderWall() {
    const order = $('class-sort').value;
    const list = [...this.students];
    if (order === 'board') {
      list.sort((a, b) => (b.validation_accuracy ?? -1) - (a.validation_accuracy ?? -1) || (a.parameters ?? Infinity) - (b.parameters ?? Infinity));
    } else if (order === 'name') {
      list.sort((a, b) => String(a.name).localeCompare(String(b.name)));
    }
    const wall = $('class-wall');
    const tiles = list.map((s) => this.tiles.get(s.session_id)).filter(Boolean);
    tiles.forEach((tile, i) => {
      let rank = tile.root.querySelector('.rank');
      if (order === 'board') {
        if (!rank) { rank = el('span', { class: 'rank' }); tile.name.before(rank); }
        rank.textContent = `${i + 1}.`;
      } else if (rank) rank.remove();
    });
    const current = [...wall.children];
    if (current.length !== tiles.length || current.some((c, i) => c !== tiles[i].root)) wall.replaceChildren(...tiles.map((x) => x.root));
    const count = t('class.students', { n: this.students.length });
    const unseen = this.unseen.length
      ? t('class.unseen', { n: this.unseen.length, names: this.unseen.map((u) => u.name).join(', ') })
      : '';
    $('class-count').textContent = unseen ? `${count} · ${unseen}` : count; // names are text
  }

  /** A kind 5 frame: one student's decision map, 22 id bytes then kind 1 (or 4) cells. */
  onThumbnail(buffer) {
    const f = parseFrame(buffer);
    if (!f || f.kind !== 5 || f.body.length < ID_BYTES) return;
    const id = String.fromCharCode(...f.body.subarray(0, ID_BYTES));
    const tile = this.tiles.get(id) || this.tile({ session_id: id });
    const cells = f.body.subarray(ID_BYTES);
    const n = f.width * f.height;
    const off = pixelCanvas(tile.off, f.width, f.height);
    tile.off = off;
    const px = off._px;
    if (f.channels === 1) {
      for (let i = 0; i < n; i++) px[i] = this.luts.regression[cells[i]];
    } else {
      let maxClass = 0;
      for (let i = 0; i < n; i++) if (cells[2 * i] > maxClass) maxClass = cells[2 * i];
      const lut = maxClass < 2 ? this.luts[2] : this.luts.many;
      for (let i = 0; i < n; i++) px[i] = lut[(cells[2 * i] & 7) * 256 + cells[2 * i + 1]];
    }
    off._ctx.putImageData(off._img, 0, 0);
    const c = tile.canvas;
    if (c.width !== f.width || c.height !== f.height) { c.width = f.width; c.height = f.height; }
    c.getContext('2d').drawImage(off, 0, 0);
    tile.painted = true;
    c.dataset.step = String(f.step);
  }

  retranslate() {
    if (this.students.length) this.onRoster({ students: this.students });
    else $('class-count').textContent = t('class.students', { n: 0 });
  }
}

/** The join link students type or scan: the server's public URL when known (a LAN address). */
function joinLink(klass) {
  const base = session.options?.public_url || location.origin;
  return `${base}${klass.join_url || `/c/${klass.code}`}`;
}

function readStored() {
  try {
    const k = JSON.parse(localStorage.getItem(STORE_KEY) || 'null');
    return k && typeof k.code === 'string' && typeof k.teacher_token === 'string' ? k : null;
  } catch {
    return null;
  }
}

async function createClass() {
  let message;
  try {
    const r = await fetch('/classes', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    if (r.status === 201 || r.ok) return await r.json();
    const body = await r.json().catch(() => ({}));
    message = (Array.isArray(body.detail) ? body.detail[0]?.msg : body.detail) || `HTTP ${r.status}`;
  } catch (e) {
    message = e.message;
  }
  notify(t('class.failed', { message }), 'error', 12000);
  return null;
}
