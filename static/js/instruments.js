// The teaching instruments (docs/instruments.md): the initial-loss check, the gradient check,
// the learning-rate schedule and stop controls, the prediction mode with its uncertainty map,
// and the weight editor. Bigger instruments live in their own modules (stats.js, race.js,
// transform.js); this one wires them all to the page through a small context object, so
// main.js only forwards messages and frames.

import { getPath } from './state.js';
import { el, pixelCanvas } from './dom.js';
import { fmt, fmtPercent, formatInt, formatNumber } from './i18n.js';
import { classCss } from './colors.js';
import { StatsPanel } from './stats.js';
import { RacePanel } from './race.js';
import { TransformPanel } from './transform.js';

const $ = (id) => document.getElementById(id);

// Enough points for a verdict in well under a second on a small net (the server caps it).
const GRADCHECK_POINTS = 32;

/** Uncertainty palette: byte 0 (all passes agree) is near white, 255 a deep purple. */
function uncertaintyLUT() {
  const lut = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    const t = Math.sqrt(b / 255); // small spreads stay visible on a projector
    const r = Math.round(248 + (70 - 248) * t);
    const g = Math.round(248 + (20 - 248) * t);
    const bl = Math.round(244 + (120 - 244) * t);
    lut[b] = ((255 << 24) | (bl << 16) | (g << 8) | r) >>> 0;
  }
  return lut;
}

export class Instruments {
  /**
   * @param {object} ctx {send(msg), configure(partial), resubscribe(), t(key, params),
   *   notify(text, kind, ms), config(), data(), dataCustom(), options(), limits(), isOwner(),
   *   weightsChanged()}
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.t = ctx.t;
    this.lastReset = null;
    this.lastGradcheck = null;
    this.stats = new StatsPanel($('stats-layers'), ctx);
    this.race = new RacePanel(ctx);
    this.transform = new TransformPanel($('transform'), $('transform-controls'), ctx);
    this.uLut = uncertaintyLUT();
    this.uncertaintyFrames = 0;
  }

  build(options) {
    this.options = options;
    this.buildSchedule();
    this.buildPrediction();
    this.stats.build(options);
    this.race.build(options);
    $('btn-gradcheck').addEventListener('click', () => this.runGradcheck());
    for (const id of ['inst-stats', 'inst-uncertainty', 'inst-transform']) {
      $(id).addEventListener('toggle', () => this.ctx.resubscribe());
    }
    this.wireWeightEditor();
  }

  /** What the live subscription should add for the open instruments. */
  subscription() {
    return {
      stats: $('inst-stats').open,
      uncertainty: $('inst-uncertainty').open,
      transform: $('inst-transform').open ? this.transform.spec() : null,
    };
  }

  // ------------------------------------------------------------ schedule and stop

  field(key, input, testid) {
    input.setAttribute('data-testid', testid);
    return el('label', { class: 'field' }, el('span', { class: 'field-label', i18n: key }, this.t(key)), input);
  }

  buildSchedule() {
    const host = $('schedule-controls');
    host.textContent = '';
    const kind = el('select', {});
    for (const k of this.options.schedules) kind.append(el('option', { value: k, i18n: `sch.${k}` }, this.t(`sch.${k}`)));
    kind.addEventListener('change', () => this.ctx.configure({ schedule: { kind: kind.value } }));
    const num = (path, step, integer) => {
      const n = el('input', { type: 'number', step, min: 0, inputmode: 'decimal' });
      n.addEventListener('change', () => {
        const v = integer ? parseInt(n.value, 10) : parseFloat(n.value);
        if (Number.isFinite(v)) this.ctx.configure({ schedule: { [path]: v } });
        else this.onConfig(this.ctx.config());
      });
      return n;
    };
    this.sched = {
      kind,
      step_size: num('step_size', 1, true),
      gamma: num('gamma', 'any', false),
      total_steps: num('total_steps', 1, true),
      min_learning_rate: num('min_learning_rate', 'any', false),
    };
    this.schedFields = {
      step_size: this.field('sch.step_size', this.sched.step_size, 'sched-step-size'),
      gamma: this.field('sch.gamma', this.sched.gamma, 'sched-gamma'),
      total_steps: this.field('sch.total_steps', this.sched.total_steps, 'sched-total-steps'),
      min_learning_rate: this.field('sch.min_lr', this.sched.min_learning_rate, 'sched-min-lr'),
    };
    host.append(this.field('sch.kind', kind, 'sched-kind'), ...Object.values(this.schedFields));

    const stopHost = $('stop-controls');
    stopHost.textContent = '';
    this.stop = {};
    for (const [k, step, integer, testid] of [
      ['validation_loss', 'any', false, 'stop-val-loss'],
      ['validation_accuracy', 0.01, false, 'stop-val-acc'],
      ['epochs', 1, true, 'stop-epochs'],
    ]) {
      const n = el('input', { type: 'number', step, min: 0, inputmode: 'decimal', placeholder: this.t('stop.none') });
      n.addEventListener('change', () => {
        const raw = n.value.trim();
        let v = null;
        if (raw !== '') {
          v = integer ? parseInt(raw, 10) : parseFloat(raw);
          if (!Number.isFinite(v)) { this.onConfig(this.ctx.config()); return; }
          if (k === 'validation_accuracy' && v > 1) v /= 100; // typed as a percentage
        }
        this.ctx.configure({ stop: { [k]: v } });
      });
      this.stop[k] = n;
      stopHost.append(this.field(`stop.${k}`, n, testid));
    }
  }

  onConfig(config) {
    if (!config || !this.sched) return;
    const defaults = this.options.defaults;
    const s = config.schedule || defaults.schedule;
    this.sched.kind.value = s.kind || defaults.schedule.kind;
    for (const k of ['step_size', 'gamma', 'total_steps', 'min_learning_rate']) {
      const n = this.sched[k];
      // An <input type=number> takes JavaScript's spelling of a number, never a localised one.
      if (document.activeElement !== n && s[k] != null) n.value = String(+(+s[k]).toPrecision(6));
    }
    const show = { step_size: s.kind === 'step', gamma: s.kind === 'step', total_steps: s.kind === 'cosine', min_learning_rate: s.kind === 'cosine' };
    for (const [k, f] of Object.entries(this.schedFields)) f.hidden = !show[k];
    const stop = config.stop || {};
    for (const [k, n] of Object.entries(this.stop)) {
      if (document.activeElement !== n) n.value = stop[k] == null ? '' : String(stop[k]);
    }
    const pred = config.prediction || defaults.prediction;
    this.predMode.value = pred.mode;
    if (document.activeElement !== this.predPasses) this.predPasses.value = String(pred.passes ?? defaults.prediction.passes);
    this.predPasses.closest('.field').hidden = pred.mode !== 'mc_dropout';
    $('uncertainty-hint').hidden = (getPath(config, 'network.dropout') || 0) > 0;
    this.transform.onConfig(config);
    this.stats.onConfig(config);
    // A paused session sends stats only with a frame, and only when they are due (at most 4
    // a second): after a network change ask again a moment later, so the panel never keeps
    // the old network's layers.
    const netKey = JSON.stringify(config.network || {});
    if (netKey !== this.netKey) {
      this.netKey = netKey;
      if ($('inst-stats').open && this.ctx.isOwner()) {
        clearTimeout(this.statsTimer);
        this.statsTimer = setTimeout(() => this.ctx.resubscribe(), 300);
      }
    }
    this.race.onConfig(config);
    if (!this.ctx.isOwner()) this.setReadOnly(true);
  }

  setReadOnly(ro) {
    document.querySelectorAll('#instruments input, #instruments select, #instruments button').forEach((e) => {
      if (!e.closest('[data-view-only]')) e.disabled = ro;
    });
  }

  /** The `stopped` event: a clear message that stays until training is played again. */
  onStopped(ev) {
    const stop = getPath(this.ctx.config(), 'stop') || {};
    const m = this.lastMetrics || {};
    const what = this.t(`stop.msg.${ev.condition}`, {
      v: ev.condition === 'validation_accuracy' ? fmtPercent(ev.validation_accuracy ?? m.validation_accuracy ?? 0) : fmt(ev.validation_loss ?? m.validation_loss),
      target: ev.condition === 'validation_accuracy' ? fmtPercent(stop.validation_accuracy) : fmt(stop[ev.condition]),
      epoch: ev.epoch ?? '?',
      n: ev.epoch,
    });
    const text = ev.condition && this.t(`stop.msg.${ev.condition}`) !== `stop.msg.${ev.condition}`
      ? this.t('stop.banner', { step: ev.step, what }) : this.t('stop.banner', { step: ev.step, what: ev.message || '' });
    const note = $('stopped-note');
    note.hidden = false;
    note.textContent = text;
    $('inst-schedule').open = true;
    this.ctx.notify(text, 'warn', 0);
  }

  onMetrics(m) {
    this.lastMetrics = m;
  }

  onPlaying() {
    $('stopped-note').hidden = true;
  }

  // ------------------------------------------------------------ initial loss

  /** The `reset` event: measured initial loss against ln K, with a verdict and one reason. */
  onReset(ev) {
    if (!('initial_loss' in ev)) return;
    this.lastReset = ev;
    const host = $('initial-loss');
    host.textContent = '';
    const config = this.ctx.config() || {};
    const K = this.ctx.data()?.classes || getPath(config, 'dataset.classes') || 2;
    const measured = ev.initial_loss;
    const expected = ev.expected_initial_loss;
    if (expected == null) {
      host.append(el('p', { class: 'il-reason', testid: 'initial-loss-reason' },
        this.t('il.none', { loss: config.loss || '?', v: fmt(measured) })));
      host.dataset.ok = 'na';
      return;
    }
    const ok = ev.initial_loss_ok ?? Math.abs(measured - expected) <= 0.1 * expected;
    host.dataset.ok = String(!!ok);
    const row = el('div', { class: 'il-row' },
      el('div', { class: 'il-cell' }, el('span', { class: 'il-label' }, this.t('il.measured')),
        el('span', { class: 'il-value', testid: 'initial-loss-measured' }, fmt(measured))),
      el('div', { class: 'il-cell' }, el('span', { class: 'il-label' }, this.t('il.expected')),
        el('span', { class: 'il-value', testid: 'initial-loss-expected' }, config.loss === 'hinge' ? `K − 1 = ${fmt(expected)}` : `ln ${formatInt(K)} ≈ ${formatNumber(expected, { minimumFractionDigits: 3, maximumFractionDigits: 3 })}`)),
      el('div', { class: `il-flag ${ok ? 'ok' : 'bad'}`, testid: 'initial-loss-flag' }, ok ? '✓' : '⚠'),
    );
    const reasons = [ok ? this.t('il.ok', { k: K }) : measured > expected ? this.t('il.high') : this.t('il.low')];
    if (getPath(config, 'regularization.kind') && getPath(config, 'regularization.kind') !== 'none') reasons.push(this.t('il.reg'));
    host.append(row, el('p', { class: 'il-reason', testid: 'initial-loss-reason' }, reasons.join(' ')));
  }

  // ------------------------------------------------------------ gradient check

  runGradcheck() {
    const b = $('btn-gradcheck');
    b.disabled = true;
    b.textContent = this.t('gc.running');
    this.ctx.send({ type: 'gradcheck', points: Math.min(GRADCHECK_POINTS, this.ctx.limits().max_gradcheck_points) });
    clearTimeout(this.gcTimer);
    this.gcTimer = setTimeout(() => this.gradcheckDone(), 15000);
  }

  gradcheckDone() {
    const b = $('btn-gradcheck');
    b.disabled = !this.ctx.isOwner();
    b.textContent = this.t('gc.run');
  }

  onGradcheck(msg) {
    clearTimeout(this.gcTimer);
    this.gradcheckDone();
    this.lastGradcheck = msg;
    const host = $('gradcheck-out');
    host.textContent = '';
    const rows = msg.rows || [];
    let worst = 0;
    rows.forEach((r, i) => { if ((r.relative_error ?? Infinity) > (rows[worst].relative_error ?? -1)) worst = i; });
    const passed = msg.passed ?? (msg.worst_relative_error < msg.threshold);
    const verdict = el('p', { class: `gc-verdict ${passed ? 'ok' : 'bad'}`, testid: 'gradcheck-verdict' },
      this.t(passed ? 'gc.pass' : 'gc.fail', { e: fmt(msg.worst_relative_error, 3), th: fmt(msg.threshold, 2), step: msg.step ?? '?' }));
    const table = el('table', { class: 'gc-table', testid: 'gradcheck-table' });
    const head = el('tr', {});
    for (const k of ['gc.parameter', 'gc.index', 'gc.analytic', 'gc.numerical', 'gc.relerr']) head.append(el('th', { i18n: k }, this.t(k)));
    table.append(el('thead', {}, head));
    const body = el('tbody', {});
    rows.forEach((r, i) => {
      const tr = el('tr', { testid: i === worst ? 'gradcheck-worst' : 'gradcheck-row' },
        el('td', {}, r.parameter), el('td', {}, `[${r.index.join(', ')}]`),
        el('td', {}, fmt(r.analytic, 6)), el('td', {}, fmt(r.numerical, 6)), el('td', {}, fmt(r.relative_error, 3)));
      if (i === worst) tr.className = 'worst';
      if (r.relative_error >= msg.threshold) tr.classList.add('bad');
      body.append(tr);
    });
    table.append(body);
    host.append(verdict, el('div', { class: 'gc-scroll' }, table));
  }

  // ------------------------------------------------------------ prediction and uncertainty

  buildPrediction() {
    const host = $('prediction-controls');
    host.textContent = '';
    const mode = el('select', {});
    for (const k of this.options.prediction_modes) mode.append(el('option', { value: k, i18n: `pred.${k}` }, this.t(`pred.${k}`)));
    mode.addEventListener('change', () => this.ctx.configure({ prediction: { mode: mode.value } }));
    const passes = el('input', { type: 'number', min: 1, max: this.options.max_mc_passes, step: 1, inputmode: 'numeric' });
    passes.addEventListener('change', () => {
      const v = parseInt(passes.value, 10);
      if (Number.isFinite(v)) this.ctx.configure({ prediction: { passes: v } });
    });
    this.predMode = mode;
    this.predPasses = passes;
    host.append(this.field('pred.mode', mode, 'prediction-mode'), this.field('pred.passes', passes, 'prediction-passes'));
  }

  /** A kind-3 frame: the MC-dropout spread, one byte a cell, scaled up under the points. */
  onUncertainty(frame) {
    const { width: w, height: h, body } = frame;
    const off = pixelCanvas(this.uOff, w, h);
    this.uOff = off;
    const px = off._px;
    const lut = this.uLut;
    for (let i = 0; i < w * h; i++) px[i] = lut[body[i]];
    off._ctx.putImageData(off._img, 0, 0);
    this.uncertaintyFrames += 1;
    // A small picture: 10 redraws a second is plenty; the newest frame is always drawn.
    if (this.uTimer) return;
    const wait = Math.max(0, 100 - (performance.now() - (this.uDrawn || 0)));
    this.uTimer = setTimeout(() => {
      this.uTimer = 0;
      this.uDrawn = performance.now();
      this.drawUncertainty();
    }, wait);
  }

  drawUncertainty() {
    const off = this.uOff;
    if (!off) return;
    const c = $('uncertainty');
    const dpr = window.devicePixelRatio || 1;
    const W = Math.max(50, Math.round((c.getBoundingClientRect().width || 300) * dpr));
    if (c.width !== W || c.height !== W) { c.width = W; c.height = W; }
    const ctx = c.getContext('2d');
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, 0, 0, W, W);
    const data = this.ctx.data();
    if (!data || !data.points || !data.domain) return;
    const [x0, x1, y0, y1] = data.domain;
    const r = Math.max(1.5, W / 160);
    ctx.strokeStyle = 'rgba(255,255,255,0.9)';
    ctx.lineWidth = Math.max(0.75, r * 0.35);
    data.points.forEach((p, i) => {
      const lab = data.labels[i];
      ctx.fillStyle = classCss(Number.isInteger(lab) ? lab : (lab < 0 ? 0 : 1));
      ctx.beginPath();
      ctx.arc(((p[0] - x0) / (x1 - x0)) * W, ((y1 - p[1]) / (y1 - y0)) * W, r, 0, Math.PI * 2);
      ctx.fill();
      ctx.stroke();
    });
  }

  // ------------------------------------------------------------ weight editor

  wireWeightEditor() {
    const box = $('weight-editor');
    const input = $('weight-input');
    const apply = () => {
      const v = parseFloat(input.value);
      if (!Number.isFinite(v)) { this.ctx.notify(this.t('w.bad'), 'warn', 2500); return; }
      const { l, i, j } = this.editing;
      this.ctx.send({ type: 'set_weight', parameter: `dense${l}.W`, index: [i, j], value: v });
      this.ctx.weightsChanged();
      box.hidden = true;
    };
    $('weight-ok').addEventListener('click', apply);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') apply();
      else if (e.key === 'Escape') box.hidden = true;
    });
    document.addEventListener('pointerdown', (e) => {
      if (!box.hidden && !box.contains(e.target) && !(e.target.closest && e.target.closest('path.link'))) box.hidden = true;
    });
  }

  /** Open the little weight box next to the clicked link. */
  editWeight({ layer, i, j, w, from, to, x, y }) {
    if (!this.ctx.isOwner()) return;
    this.editing = { l: layer, i, j };
    const box = $('weight-editor');
    $('weight-editor-label').textContent = this.t('w.edit', { from, to });
    const input = $('weight-input');
    input.value = w == null ? '' : String(+(+w).toPrecision(4));
    box.hidden = false;
    const r = box.getBoundingClientRect();
    box.style.left = `${Math.max(4, Math.min(window.innerWidth - r.width - 4, x + 8))}px`;
    box.style.top = `${Math.max(4, Math.min(window.innerHeight - r.height - 4, y + 8))}px`;
    input.focus();
    input.select();
  }

  retranslate() {
    if (this.options) {
      this.buildSchedule();
      this.buildPrediction();
      this.onConfig(this.ctx.config());
    }
    if (this.lastReset) this.onReset(this.lastReset);
    if (this.lastGradcheck) this.onGradcheck(this.lastGradcheck);
    this.stats.retranslate();
    this.race.retranslate();
    this.transform.onConfig(this.ctx.config());
  }
}
