// The session as the server last described it: the live socket's hello, config, data, metrics
// and status. Only the functions below write it; they are called by the socket's handlers
// (live.js, render.js, view.js). Every other module reads the `session` view.

import { readOnly } from './store.js';

const record = Object.seal({
  options: null, // GET /api/options: every list, default and cap (read once at start-up)
  limits: {}, // the server's caps: options.limits, then what each hello says
  sessionId: null, // the session this page drives (null for a watch link)
  role: 'owner', // 'owner' | 'watcher'
  watchToken: null, // the read-only link's token
  config: null, // the session config, as the server last sent it
  data: null, // the last `data` message: points, labels, classes, domain
  running: false,
  step: -1, // the newest metrics' step (-1 after a reset)
  metrics: null, // the newest metrics message
  status: null, // the socket: 'connecting' | 'open' | 'reconnecting' | 'closed'
});

/** Read-only: `session.config = x` throws; the functions below are the only writers. */
export const session = readOnly(record);

export function setOptions(options) {
  record.options = options;
  record.limits = { ...(options.limits || {}) };
}

/** A watch link opens as a watcher before any hello says so. */
export function setRole(role) {
  record.role = role;
}

/** hello: who this page is in the session (the config and running state come separately). */
export function setGreeting(msg) {
  record.role = msg.role || (msg.session_id ? 'owner' : 'watcher');
  record.watchToken = msg.watch_token || record.watchToken;
  if (msg.session_id) record.sessionId = msg.session_id;
  if (msg.limits) record.limits = { ...record.limits, ...msg.limits };
}

export function setConfig(config) {
  record.config = config;
}

export function setData(data) {
  record.data = data;
}

export function setRunning(running) {
  record.running = !!running;
}

export function setMetrics(m) {
  record.step = m.step;
  record.metrics = m;
}

/** A reset: the next metrics start a new curve. */
export function clearStep() {
  record.step = -1;
}

export function setStatus(status) {
  record.status = status;
}
