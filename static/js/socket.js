// The live websocket: JSON messages and binary frames in, JSON messages out. Reconnects with
// exponential backoff; on reconnect it first asks to resume the old session
// (?session=<id>&resume_key=<key>: the id is public, the key from the owner's hello is what
// resumes it) and falls back to a fresh session, telling the page so it can re-send its settings.

const HEADER = 16;

/** Parse a binary frame's 16-byte header (little-endian); null if it is not ours. */
export function parseFrame(buffer) {
  if (buffer.byteLength < HEADER) return null;
  const v = new DataView(buffer);
  if (v.getUint8(0) !== 77 || v.getUint8(1) !== 76 || v.getUint8(2) !== 80 || v.getUint8(3) !== 71) {
    return null;
  }
  return {
    version: v.getUint8(4),
    kind: v.getUint8(5),
    channels: v.getUint16(6, true),
    step: v.getUint32(8, true),
    width: v.getUint16(12, true),
    height: v.getUint16(14, true),
    body: new Uint8Array(buffer, HEADER),
    buffer,
  };
}

export class LiveSocket {
  /**
   * @param {object} opts
   *   url(resumeId) -> websocket URL to open; onHello(msg, {reconnect, resumed}) for each
   *   hello (reconnect: not the first connection; resumed: the session asked for came back);
   *   onMessage(msg) for every other message; onFrame(frame); onStatus(status) with status in
   *   "connecting" | "open" | "reconnecting" | "closed"; resumeId: a session to ask for first
   *   (a student's reload), as {id, key} (its id and resume key); maxDelay (ms).
   */
  constructor(opts) {
    this.opts = opts;
    this.ws = null;
    this.sessionId = opts.resumeId?.id || null; // the session to resume after a drop
    this.resumeKey = opts.resumeId?.key || null; // its owner's secret (hello's resume_key)
    this.attempt = 0;
    this.timer = null;
    this.closedByUser = false;
    this.everOpened = false;
    this.resumeFailures = 0;
    this.queue = [];
  }

  connect() {
    this.closedByUser = false;
    const resume = this.sessionId && this.resumeFailures < 1 ? this.sessionId : null;
    let url = this.opts.url(resume);
    if (resume && this.resumeKey) {
      url += `${url.includes('?') ? '&' : '?'}resume_key=${encodeURIComponent(this.resumeKey)}`;
    }
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let greeted = false;
    this.opts.onStatus?.(this.everOpened ? 'reconnecting' : 'connecting');
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') {
        let msg;
        try { msg = JSON.parse(ev.data); } catch { return; }
        if (msg.type === 'hello') {
          greeted = true;
          const resumed = resume != null && msg.session_id === resume;
          if (msg.session_id) this.sessionId = msg.session_id;
          if (msg.resume_key) this.resumeKey = msg.resume_key;
          this.attempt = 0;
          this.resumeFailures = 0;
          const reconnect = this.everOpened;
          this.everOpened = true;
          this.opts.onStatus?.('open');
          this.opts.onHello?.(msg, { reconnect, resumed });
          for (const m of this.queue.splice(0)) this.send(m);
          return;
        }
        this.opts.onMessage?.(msg);
      } else {
        const frame = parseFrame(ev.data);
        if (frame) this.opts.onFrame?.(frame);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closedByUser) { this.opts.onStatus?.('closed'); return; }
      if (!greeted && resume) this.resumeFailures += 1; // the old session is gone: start anew
      if (this.opts.onClose?.(ev, greeted) === false) { this.opts.onStatus?.('closed'); return; }
      this.opts.onStatus?.('reconnecting');
      const delay = Math.min(this.opts.maxDelay ?? 5000, 250 * 2 ** this.attempt);
      this.attempt += 1;
      this.timer = setTimeout(() => this.connect(), delay);
    };
    ws.onerror = () => { /* onclose follows and handles it */ };
  }

  get open() {
    return this.ws != null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Send a JSON message; queued until the next hello when the socket is down. */
  send(msg) {
    if (this.open) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    if (msg.type === 'configure' || msg.type === 'subscribe') this.queue.push(msg);
    return false;
  }

  close() {
    this.closedByUser = true;
    clearTimeout(this.timer);
    this.ws?.close(1000);
  }
}
