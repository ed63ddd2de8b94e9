// The front end of mlp_playground.notebook.Playground (an anywidget ESM module, no build,
// no CDN). It draws what the kernel syncs: `_frame` (the newest kind 1 or kind 4 binary
// frame of docs/protocol.md, header included), `_data` (points, labels, split, classes,
// domain), `_config`, `_metrics`, `_curve` ({unit, points: [[x, train, validation]]}),
// `running` and `status`. Its buttons send {type: "play" | "pause" | "reset"} to the
// kernel, which owns the websocket (see the Python module's docstring for why).

// The page's palette (static/js/colors.js), copied: the widget ships alone.
const CLASS_COLORS = [
  [245, 147, 34], [8, 119, 189], [0, 158, 115], [204, 121, 167],
  [213, 94, 0], [86, 180, 233], [150, 110, 60], [110, 90, 200],
];
const NEUTRAL = [244, 244, 240];
const STRENGTH = 0.7;
const PLOT = 300;

const css = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;
const color = (k) => CLASS_COLORS[((k % 8) + 8) % 8];
const mix = (a, b, t) => a.map((v, i) => Math.round(v + (b[i] - v) * t));

function bytesOf(value) {
  if (!value) return null;
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

/** Decode the 16-byte header (little-endian): MLPG, version, kind, channels, step, w, h. */
function decodeFrame(bytes) {
  if (!bytes || bytes.length < 16) return null;
  if (String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]) !== 'MLPG') return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    kind: bytes[5], channels: view.getUint16(6, true), step: view.getUint32(8, true),
    width: view.getUint16(12, true), height: view.getUint16(14, true), cells: bytes.subarray(16),
  };
}

/** The colour of one cell: the class's colour faded towards neutral by uncertainty. */
function cellColor(frame, i, classes) {
  if (frame.kind === 4) {  // regression: byte = round(255 * (clip(y) + 1) / 2)
    const y = frame.cells[i] / 127.5 - 1;
    return mix(NEUTRAL, y < 0 ? CLASS_COLORS[0] : CLASS_COLORS[1], Math.abs(y) * STRENGTH);
  }
  const k = frame.cells[2 * i];
  const p = frame.cells[2 * i + 1] / 255;
  const floor = 1 / Math.max(2, classes);
  const t = Math.max(0, Math.min(1, (p - floor) / (1 - floor)));
  return mix(NEUTRAL, color(k), 0.25 + 0.75 * t * STRENGTH);
}

function drawBoundary(canvas, frame, classes) {
  const ctx = canvas.getContext('2d');
  if (!frame || (frame.kind !== 1 && frame.kind !== 4)) {
    ctx.fillStyle = css(NEUTRAL);
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    return;
  }
  const { width, height } = frame;
  const small = new OffscreenCanvas(width, height);
  const sctx = small.getContext('2d');
  const image = sctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const c = cellColor(frame, i, classes);
    image.data.set([c[0], c[1], c[2], 255], 4 * i);
  }
  sctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function drawPoints(canvas, data) {
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!data || !data.points || !data.domain) return;
  const [x0, x1, y0, y1] = data.domain;
  const regression = (data.classes || 0) <= 1;
  data.points.forEach(([a, b], i) => {
    const label = data.labels[i];
    const c = regression ? (label < 0 ? CLASS_COLORS[0] : CLASS_COLORS[1]) : color(label);
    const x = ((a - x0) / (x1 - x0)) * canvas.width;
    const y = ((y1 - b) / (y1 - y0)) * canvas.height;
    const validation = data.split && data.split[i] === 'validation';
    ctx.beginPath();
    ctx.arc(x, y, 3, 0, 2 * Math.PI);
    ctx.fillStyle = validation ? '#ffffff' : css(c);
    ctx.strokeStyle = validation ? css(c) : '#ffffff';
    ctx.lineWidth = validation ? 1.5 : 1;
    ctx.fill();
    ctx.stroke();
  });
}

function drawCurve(canvas, curve) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width, H = canvas.height, pad = 24;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = '#5b6675';
  ctx.font = '10px sans-serif';
  const points = (curve && curve.points) || [];
  ctx.fillText(`loss (by ${(curve && curve.unit) || 'step'})`, pad, 11);
  const values = points.flatMap((p) => [p[1], p[2]]).filter((v) => v !== null && Number.isFinite(v));
  if (points.length < 2 || !values.length) return;
  const xMin = points[0][0], xMax = points[points.length - 1][0] || 1;
  const yMax = Math.max(...values) || 1;
  const sx = (x) => pad + ((x - xMin) / Math.max(1e-9, xMax - xMin)) * (W - pad - 6);
  const sy = (y) => H - pad + 10 - (y / yMax) * (H - pad - 10);
  ctx.strokeStyle = '#d0d4da';
  ctx.strokeRect(pad, 14, W - pad - 6, H - pad - 4);
  ctx.fillText(yMax.toPrecision(2), 1, 22);
  ctx.fillText(String(xMax), W - 40, H - 2);
  [[1, '#0877bd', []], [2, '#e8710a', [4, 3]]].forEach(([col, stroke, dash]) => {
    ctx.beginPath();
    ctx.setLineDash(dash);
    ctx.strokeStyle = stroke;
    let started = false;
    for (const p of points) {
      if (p[col] === null || !Number.isFinite(p[col])) continue;
      if (started) ctx.lineTo(sx(p[0]), sy(p[col]));
      else ctx.moveTo(sx(p[0]), sy(p[col]));
      started = true;
    }
    ctx.stroke();
  });
  ctx.setLineDash([]);
}

function summary(config) {
  if (!config || !config.network) return '';
  const net = config.network;
  const acts = Array.isArray(net.activation) ? [...new Set(net.activation)].join('/') : net.activation;
  const opt = config.optimizer || {};
  return [
    `${config.dataset ? config.dataset.name : '?'} (${config.dataset ? config.dataset.classes : '?'} classes)`,
    `${(net.hidden_layers || []).join('-') || 'linear'} ${acts || ''}`.trim(),
    `${opt.name} lr ${opt.learning_rate}`,
    `batch ${config.batch_size}`,
    `loss ${config.loss}`,
  ].join(' · ');
}

function metricsText(m) {
  if (!m || m.step === undefined) return 'no step yet';
  const f = (v) => (v === null || v === undefined ? '–' : Number(v).toFixed(4));
  const acc = m.train_accuracy === null || m.train_accuracy === undefined ? '' : `, accuracy ${f(m.train_accuracy)}`;
  return `step ${m.step}, epoch ${m.epoch}: train loss ${f(m.train_loss)}${acc}, validation loss ${f(m.validation_loss)}`;
}

function el(tag, cls, parent, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function render({ model, el: root }) {
  const box = el('div', 'mlpg-widget', root);
  const bar = el('div', 'mlpg-bar', box);
  const buttons = ['play', 'pause', 'reset'].map((type) => {
    const b = el('button', `mlpg-${type}`, bar, type === 'play' ? '▶ Play' : type === 'pause' ? '❚❚ Pause' : '↺ Reset');
    b.type = 'button';
    b.addEventListener('click', () => model.send({ type }));
    return b;
  });
  const title = el('span', 'mlpg-title', bar);
  const status = el('span', 'mlpg-status', bar);
  const main = el('div', 'mlpg-main', box);
  const plot = el('div', 'mlpg-plot', main);
  const boundary = el('canvas', 'mlpg-boundary', plot);
  const points = el('canvas', 'mlpg-points', plot);
  for (const c of [boundary, points]) { c.width = PLOT; c.height = PLOT; }
  const side = el('div', 'mlpg-side', main);
  const curve = el('canvas', 'mlpg-curve', side);
  curve.width = 280; curve.height = 150;
  const metrics = el('div', 'mlpg-metrics', side);
  const config = el('div', 'mlpg-config', side);

  const classes = () => ((model.get('_data') || {}).classes || 2);
  const paint = {
    frame: () => {
      const frame = decodeFrame(bytesOf(model.get('_frame')));
      drawBoundary(boundary, frame, classes());
      boundary.dataset.step = frame ? String(frame.step) : '';
    },
    data: () => drawPoints(points, model.get('_data')),
    curve: () => drawCurve(curve, model.get('_curve')),
    metrics: () => { metrics.textContent = metricsText(model.get('_metrics')); },
    config: () => {
      const cfg = model.get('_config') || {};
      config.textContent = summary(cfg);
      config.dataset.learningRate = String((cfg.optimizer || {}).learning_rate);
    },
    state: () => {
      const running = model.get('running');
      const text = model.get('status');
      status.textContent = text === 'connected' ? (running ? 'training' : 'paused') : text;
      box.dataset.running = String(running);
      buttons[0].disabled = running || text !== 'connected';
      buttons[1].disabled = !running || text !== 'connected';
      buttons[2].disabled = text !== 'connected';
      title.textContent = model.get('title') || '';
    },
  };
  const events = {
    '_frame': paint.frame, '_data': () => { paint.data(); paint.frame(); }, '_curve': paint.curve,
    '_metrics': paint.metrics, '_config': paint.config, 'running': paint.state,
    'status': paint.state, 'title': paint.state,
  };
  for (const [name, fn] of Object.entries(events)) model.on(`change:${name}`, fn);
  Object.values(paint).forEach((fn) => fn());
  return () => {
    for (const [name, fn] of Object.entries(events)) model.off(`change:${name}`, fn);
  };
}

export default { render };
