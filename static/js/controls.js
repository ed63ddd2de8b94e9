// Builds every control from GET /api/options and keeps them in step with the session config.
// Each control knows its config path; a user change becomes a partial `configure` message.
// `update(config)` writes values back without sending anything (server is the source of truth).

import { getPath, nested } from './state.js';
import { drawSketch } from './sketches.js';
import { classCss } from './colors.js';
import { featureLabel } from './network.js';
import { el } from './dom.js';
import { fmt, formatInt } from './i18n.js';

// Page-side choices (how a control moves, not what the server accepts): the slider steps, and
// the grid resolutions offered (those within the server's live limits).
const N_POINTS_STEP = 10;
const GRID_CHOICES = [25, 50, 100, 150, 200];
const SEED_MAX = 2 ** 31 - 1;

/** A value as an <input type=number> wants it: JavaScript's own spelling, never localised. */
function inputNum(v) {
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v)) return String(v);
  return String(+v.toPrecision(4));
}

/** A slider's read-out, the way the page's language prints numbers. */
function shownNum(v) {
  if (typeof v !== 'number') return String(v);
  return Number.isInteger(v) ? formatInt(v) : fmt(v);
}

/** The widest [min, max] a dataset parameter takes over every generator. */
function parameterRange(options, name) {
  const specs = Object.values(options.datasets).map((d) => d.parameters[name]);
  return [Math.min(...specs.map((p) => p.min)), Math.max(...specs.map((p) => p.max ?? Infinity))];
}

export class Controls {
  /**
   * @param {object} hosts {picker, data, view, network, optimizer, speed, palette}
   * @param {object} cb {configure(partial), ui(name, value), t(key, params), selectClass(k),
   *                    network() -> the network config including edits not yet answered}
   */
  constructor(hosts, cb) {
    this.hosts = hosts;
    this.cb = cb;
    this.fields = []; // {path, set(value)}
    this.config = null;
    this.selectedClass = 0;
    this.eraser = false;
  }

  /** Every control from GET /api/options: its names, ranges and caps are the server's. */
  build(options, ui) {
    this.options = options;
    for (const host of Object.values(this.hosts)) if (host !== this.hosts.palette) host.textContent = '';
    this.fields = [];
    this.buildPicker(options);
    this.buildData(options, ui);
    this.buildNetwork(options);
    this.buildOptimizer(options);
    this.buildPalette(2);
    if (this.config) this.update(this.config);
  }

  buildPicker(options) {
    this.pickerButtons = {};
    for (const [name, info] of Object.entries(options.datasets)) {
      const c = el('canvas', { width: 72, height: 72 });
      drawSketch(c, name);
      const b = el('button', { class: 'dataset', testid: `dataset-${name}`, title: info.description || name },
        c, el('span', {}, name.replace('_', ' ')));
      b.addEventListener('click', () => this.cb.configure({ dataset: { name } }));
      this.hosts.picker.append(b);
      this.pickerButtons[name] = b;
    }
    this.fields.push({ path: 'dataset.name', set: (v) => {
      for (const [n, b] of Object.entries(this.pickerButtons)) b.classList.toggle('selected', n === v);
    } });
  }

  buildData(options, ui) {
    const lim = options.limits;
    const [nMin, nMax] = parameterRange(options, 'n_points');
    const [noiseMin, noiseMax] = parameterRange(options, 'noise');
    const kinds = Object.values(options.datasets).filter((d) => !d.regression);
    const kMin = Math.min(...kinds.map((d) => d.classes.min));
    const kMax = Math.min(lim.max_classes, Math.max(...kinds.map((d) => d.classes.max)));
    const classes = Array.from({ length: kMax - kMin + 1 }, (_, i) => kMin + i);
    this.hosts.data.append(
      this.range('dataset.n_points', 'c.n_points', Math.max(nMin, N_POINTS_STEP), Math.min(nMax, lim.max_live_points), N_POINTS_STEP, 'n-points'),
      this.range('dataset.noise', 'c.noise', noiseMin, noiseMax, 0.05, 'noise'),
      this.select('dataset.classes', 'c.classes', classes, 'classes', Number),
      this.range('validation_split', 'c.validation_split', 0, 0.9, 0.05, 'validation-split'),
      this.number('seed', 'c.seed', 0, SEED_MAX, 1, 'seed', true),
    );
    const grids = GRID_CHOICES.filter((r) => r >= lim.min_grid_resolution && r <= lim.max_live_grid_resolution);
    this.hosts.view.append(
      this.uiCheck('showValidation', 'c.show_validation', ui.showValidation, 'show-validation'),
      this.uiCheck('discretize', 'c.discretize', ui.discretize, 'discretize'),
      this.uiSelect('gridResolution', 'c.grid_resolution', grids, ui.gridResolution, 'grid-resolution'),
    );
  }

  buildNetwork(options) {
    // Features as toggle chips.
    const feats = el('div', { class: 'chips', testid: 'features' });
    this.featureButtons = {};
    for (const f of options.features) {
      const b = el('button', { class: 'chip', testid: `feature-${f}`, 'aria-pressed': 'false' }, featureLabel(f));
      b.addEventListener('click', () => {
        const cur = new Set(this.cb.network().features || []);
        if (cur.has(f)) { if (cur.size > 1) cur.delete(f); } else cur.add(f);
        this.cb.configure({ network: { features: options.features.filter((x) => cur.has(x)) } });
      });
      feats.append(b);
      this.featureButtons[f] = b;
    }
    this.fields.push({ path: 'network.features', set: (v) => {
      for (const [f, b] of Object.entries(this.featureButtons)) b.setAttribute('aria-pressed', String(v.includes(f)));
    } });
    this.hosts.network.append(
      this.wrap('c.features', feats, true),
      this.check('network.normalize', 'c.normalize', 'normalize'),
      this.allActivations(options.activations),
      this.select('network.init', 'c.init', options.initializers, 'init'),
      this.range('network.dropout', 'c.dropout', 0, 0.9, 0.05, 'dropout'),
      this.select('loss', 'c.loss', options.losses, 'loss'),
      this.select('regularization.kind', 'c.regularization', options.regularizations, 'regularization'),
      this.number('regularization.strength', 'c.strength', 0, 10, 'any', 'reg-strength'),
    );
  }

  buildOptimizer(options) {
    // The select, then exactly that optimiser's hyper-parameters. Only the name is sent: the
    // server fills that optimiser's defaults and keeps the learning rate.
    const optSel = this.select('optimizer.name', 'c.optimizer', Object.keys(options.optimizers), 'optimizer');
    this.hparamHost = el('div', { class: 'hparams', testid: 'hparams' });
    this.hparamFor = null;
    this.hosts.optimizer.append(optSel, this.hparamHost,
      this.number('batch_size', 'c.batch_size', 1, options.limits.max_batch_size, 1, 'batch-size', true));
    this.hosts.speed.append(this.speed(options.speeds, options.default_speed));
    this.fields.push({ path: 'optimizer', set: (v) => this.buildHparams(v) });
  }

  wrap(key, input, wide = false) {
    const label = el('span', { class: 'field-label', i18n: key }, this.cb.t(key));
    return el('label', { class: wide ? 'field wide' : 'field' }, label, input);
  }

  send(path, value) {
    this.cb.configure(nested(path, value));
  }

  select(path, key, choices, testid, cast = String, toPartial = null) {
    const s = el('select', { testid });
    for (const c of choices) s.append(el('option', { value: String(c) }, String(c)));
    s.addEventListener('change', () => {
      const v = cast(s.value);
      this.cb.configure(toPartial ? toPartial(v) : nested(path, v));
    });
    this.fields.push({ path, set: (v) => { s.value = String(v); } });
    return this.wrap(key, s);
  }

  range(path, key, min, max, step, testid) {
    const r = el('input', { type: 'range', min, max, step, testid });
    const out = el('output', { class: 'range-value', testid: `${testid}-value` });
    r.addEventListener('input', () => { out.textContent = shownNum(+r.value); });
    r.addEventListener('change', () => this.send(path, +r.value));
    this.fields.push({ path, set: (v) => { r.value = v; out.textContent = shownNum(v); } });
    return this.wrap(key, el('span', { class: 'range' }, r, out));
  }

  number(path, key, min, max, step, testid, integer = false) {
    const n = el('input', { type: 'number', min, max, step, testid, inputmode: 'decimal' });
    n.addEventListener('change', () => {
      const v = integer ? parseInt(n.value, 10) : parseFloat(n.value);
      if (Number.isFinite(v)) this.send(path, v);
      else this.update(this.config);
    });
    this.fields.push({ path, set: (v) => { if (document.activeElement !== n) n.value = inputNum(v); } });
    return this.wrap(key, n);
  }

  check(path, key, testid) {
    const c = el('input', { type: 'checkbox', testid });
    c.addEventListener('change', () => this.send(path, c.checked));
    this.fields.push({ path, set: (v) => { c.checked = !!v; } });
    const label = el('span', { i18n: key }, this.cb.t(key));
    return el('label', { class: 'field check' }, c, label);
  }

  uiCheck(name, key, value, testid) {
    const c = el('input', { type: 'checkbox', testid });
    c.checked = !!value;
    c.addEventListener('change', () => this.cb.ui(name, c.checked));
    this.uiFields = this.uiFields || {};
    this.uiFields[name] = (v) => { c.checked = !!v; };
    return el('label', { class: 'field check' }, c, el('span', { i18n: key }, this.cb.t(key)));
  }

  uiSelect(name, key, choices, value, testid) {
    const s = el('select', { testid });
    for (const c of choices) s.append(el('option', { value: String(c) }, `${c}×${c}`));
    s.value = String(value);
    s.addEventListener('change', () => this.cb.ui(name, Number(s.value)));
    this.uiFields = this.uiFields || {};
    this.uiFields[name] = (v) => { s.value = String(v); };
    return this.wrap(key, s);
  }

  allActivations(choices) {
    const s = el('select', { testid: 'activation-all' });
    s.append(el('option', { value: '' }, '—'));
    for (const c of choices) s.append(el('option', { value: c }, c));
    s.addEventListener('change', () => {
      if (!s.value) return;
      // One name means every hidden layer on the server, including one added a moment ago.
      this.cb.configure({ network: { activation: s.value } });
    });
    this.fields.push({ path: 'network.activation', set: (v) => {
      const a = Array.isArray(v) ? v : [v];
      s.value = a.length && a.every((x) => x === a[0]) ? a[0] : '';
    } });
    return this.wrap('c.activation', s);
  }

  /**
   * The pace: a slider over the server's stops (its last is "max") and a "max" button that
   * toggles between "max" and the last slower pace chosen (the page's default at first).
   */
  speed(stops, defaultSpeed) {
    const r = el('input', { type: 'range', min: 0, max: stops.length - 1, step: 1, testid: 'speed' });
    const out = el('output', { class: 'range-value', testid: 'speed-value' });
    const max = el('button', { class: 'speed-max', testid: 'speed-max', 'aria-pressed': 'false', i18n: 'speed.max_button' }, this.cb.t('speed.max_button'));
    const label = (i) => (stops[i] === 'max' ? this.cb.t('speed.max') : shownNum(stops[i]));
    let slower = defaultSpeed;
    r.addEventListener('input', () => { out.textContent = label(+r.value); });
    r.addEventListener('change', () => this.send('speed', stops[+r.value]));
    max.addEventListener('click', () => this.send('speed', getPath(this.config, 'speed') === 'max' ? slower : 'max'));
    this.fields.push({ path: 'speed', set: (v) => {
      if (v !== 'max') slower = v;
      let i = stops.indexOf(v);
      if (i < 0) i = stops.reduce((b, s, j) => (s !== 'max' && Math.abs(s - v) < Math.abs(stops[b] - v) ? j : b), 0);
      r.value = i; out.textContent = label(i);
      max.setAttribute('aria-pressed', String(v === 'max'));
    } });
    const label_ = el('span', { class: 'field-label', i18n: 'c.speed' }, this.cb.t('c.speed'));
    return el('div', { class: 'speed-box' }, el('label', { class: 'speed-field' }, label_, el('span', { class: 'range' }, r, out)), max);
  }

  buildHparams(opt) {
    if (!opt) return;
    // In the order the server lists that optimiser's hyper-parameters, then anything else.
    const order = Object.keys(this.options.optimizers[opt.name] || {});
    const keys = order.filter((k) => k in opt).concat(Object.keys(opt).filter((k) => k !== 'name' && !order.includes(k)));
    const sig = `${opt.name}:${keys.join(',')}`;
    if (sig !== this.hparamFor) {
      this.hparamFor = sig;
      this.hparamHost.textContent = '';
      this.hparamInputs = {};
      for (const k of keys) {
        const n = el('input', { type: 'number', step: 'any', min: 0, testid: `hp-${k}`, inputmode: 'decimal' });
        n.addEventListener('change', () => {
          const v = parseFloat(n.value);
          if (Number.isFinite(v)) this.cb.configure({ optimizer: { [k]: v } });
          else n.value = inputNum(getPath(this.config, `optimizer.${k}`));
        });
        this.hparamInputs[k] = n;
        this.hparamHost.append(this.wrap(`c.${k}`, n));
      }
    }
    for (const k of keys) {
      const n = this.hparamInputs[k];
      if (document.activeElement !== n) n.value = inputNum(opt[k]);
    }
  }

  buildPalette(classes) {
    const host = this.hosts.palette;
    if (this.paletteClasses === classes) return;
    this.paletteClasses = classes;
    host.textContent = '';
    this.selectedClass = Math.min(this.selectedClass, classes - 1);
    this.swatches = [];
    for (let k = 0; k < classes; k++) {
      const b = el('button', { class: 'swatch', testid: `class-${k}`, 'aria-pressed': String(k === this.selectedClass) }, String(k));
      b.style.setProperty('--c', classCss(k));
      b.addEventListener('click', () => this.selectClass(k));
      host.append(b);
      this.swatches.push(b);
    }
    const eraser = el('button', { class: 'swatch eraser', testid: 'eraser', 'aria-pressed': String(this.eraser), title: this.cb.t('btn.eraser') }, '⌫');
    eraser.addEventListener('click', () => { this.eraser = !this.eraser; eraser.setAttribute('aria-pressed', String(this.eraser)); });
    host.append(eraser);
  }

  selectClass(k) {
    this.selectedClass = k;
    this.eraser = false;
    this.swatches.forEach((b, i) => b.setAttribute('aria-pressed', String(i === k)));
    this.hosts.palette.querySelector('.eraser')?.setAttribute('aria-pressed', 'false');
  }

  /** Write the server's config into every control (no messages sent). */
  update(config) {
    this.config = config;
    for (const f of this.fields) {
      const v = getPath(config, f.path);
      if (v !== undefined) f.set(v);
    }
    const k = getPath(config, 'dataset.classes');
    if (k) this.buildPalette(k);
    // Only the class counts the current generator supports can be chosen.
    const info = this.options?.datasets?.[getPath(config, 'dataset.name')];
    const range = info?.classes;
    const sel = this.hosts.data.querySelector('[data-testid=classes]');
    if (sel && range) {
      const [lo, hi] = Array.isArray(range) ? range : [range.min, range.max];
      for (const o of sel.options) o.disabled = +o.value < lo || +o.value > hi;
      if (!this.readOnly) sel.disabled = lo === hi;
    }
    if (this.readOnly) this.setReadOnly(true); // controls built since (hyper-parameters)
    const rs = this.hosts.network.querySelector('[data-testid=reg-strength]');
    if (rs && !this.readOnly) rs.disabled = getPath(config, 'regularization.kind') === 'none';
  }

  updateUi(ui) {
    for (const [name, set] of Object.entries(this.uiFields || {})) set(ui[name]);
  }

  setReadOnly(ro) {
    this.readOnly = ro;
    for (const host of Object.values(this.hosts)) {
      host.querySelectorAll('input, select, button').forEach((e) => {
        if (!e.closest('[data-ui-only]')) e.disabled = ro;
      });
    }
  }
}
