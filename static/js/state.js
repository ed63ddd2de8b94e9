// Configuration state and its URL-hash form. Table-driven (as in TensorFlow Playground):
// one row per setting gives its short key, its path in the config and its type, so adding a
// setting is one line and encode/decode can never disagree.

/** [hash key, path in the session config (or "ui.*" for page-only settings), type] */
export const FIELDS = [
  ['data', 'dataset.name', 'str'],
  ['n', 'dataset.n_points', 'int'],
  ['noise', 'dataset.noise', 'float'],
  ['k', 'dataset.classes', 'int'],
  ['dseed', 'dataset.seed', 'int'],
  ['val', 'validation_split', 'float'],
  ['h', 'network.hidden_layers', 'intlist'],
  ['act', 'network.activation', 'strlist'],
  ['init', 'network.init', 'str'],
  ['drop', 'network.dropout', 'float'],
  ['feat', 'network.features', 'strlist'],
  ['norm', 'network.normalize', 'bool'],
  ['loss', 'loss', 'str'],
  ['reg', 'regularization.kind', 'str'],
  ['rs', 'regularization.strength', 'float'],
  ['opt', 'optimizer.name', 'str'],
  ['lr', 'optimizer.learning_rate', 'float'],
  ['mom', 'optimizer.momentum', 'float'],
  ['decay', 'optimizer.decay_rate', 'float'],
  ['b1', 'optimizer.beta1', 'float'],
  ['b2', 'optimizer.beta2', 'float'],
  ['eps', 'optimizer.epsilon', 'float'],
  ['bs', 'batch_size', 'int'],
  ['shuf', 'shuffle', 'bool'],
  ['seed', 'seed', 'int'],
  ['speed', 'speed', 'speed'],
  ['sched', 'schedule.kind', 'str'],
  ['ssz', 'schedule.step_size', 'int'],
  ['gam', 'schedule.gamma', 'float'],
  ['tot', 'schedule.total_steps', 'int'],
  ['minlr', 'schedule.min_learning_rate', 'float'],
  ['stopvl', 'stop.validation_loss', 'float'],
  ['stopva', 'stop.validation_accuracy', 'float'],
  ['stopep', 'stop.epochs', 'int'],
  ['pred', 'prediction.mode', 'str'],
  ['passes', 'prediction.passes', 'int'],
  ['lang', 'ui.lang', 'str'],
  ['big', 'ui.large', 'bool'],
  ['showval', 'ui.showValidation', 'bool'],
  ['disc', 'ui.discretize', 'bool'],
  ['log', 'ui.logScale', 'bool'],
  ['res', 'ui.gridResolution', 'int'],
];

export const UI_DEFAULTS = {
  lang: null,
  large: false,
  showValidation: true,
  discretize: false,
  logScale: false,
  gridResolution: 100,
};

export function getPath(obj, path) {
  let o = obj;
  for (const part of path.split('.')) {
    if (o == null || typeof o !== 'object') return undefined;
    o = o[part];
  }
  return o;
}

export function setPath(obj, path, value) {
  const parts = path.split('.');
  let o = obj;
  for (const part of parts.slice(0, -1)) {
    if (o[part] == null || typeof o[part] !== 'object' || Array.isArray(o[part])) o[part] = {};
    o = o[part];
  }
  o[parts[parts.length - 1]] = value;
}

/** Build a nested object `{a: {b: value}}` from "a.b". */
export function nested(path, value) {
  const out = {};
  setPath(out, path, value);
  return out;
}

/** Deep-merge `patch` into a copy of `base` (arrays are replaced, not merged). */
export function merge(base, patch) {
  if (patch == null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = base && typeof base === 'object' && !Array.isArray(base) ? { ...base } : {};
  for (const [k, v] of Object.entries(patch)) out[k] = merge(out[k], v);
  return out;
}

function encodeValue(type, v) {
  switch (type) {
    case 'bool': return v ? '1' : '0';
    case 'intlist': case 'strlist': return v.join(',');
    case 'float': return String(+(+v).toPrecision(6));
    default: return String(v);
  }
}

function decodeValue(type, s) {
  switch (type) {
    case 'int': { const n = parseInt(s, 10); return Number.isFinite(n) ? n : undefined; }
    case 'float': { const n = parseFloat(s); return Number.isFinite(n) ? n : undefined; }
    case 'bool': return s === '1' || s === 'true';
    case 'intlist':
      if (s === '') return [];
      { const a = s.split(',').map((x) => parseInt(x, 10)); return a.every(Number.isFinite) ? a : undefined; }
    case 'strlist': return s === '' ? [] : s.split(',');
    case 'speed': {
      if (s === 'max') return 'max';
      const n = parseFloat(s); return Number.isFinite(n) ? n : undefined;
    }
    default: return s;
  }
}

/**
 * Instrument settings left out of the hash while they hold the value every new session starts
 * with (the server's defaults, GET /api/options), so everyday links stay short.
 */
export const OMIT_WHEN_DEFAULT = ['sched', 'ssz', 'gam', 'tot', 'minlr', 'pred', 'passes'];

/**
 * The hash string ("#data=circle&lr=0.03...") for a session config and the page settings;
 * `defaults` (a complete /train body) lets the OMIT_WHEN_DEFAULT settings stay out.
 */
export function encodeHash(config, ui, defaults = null) {
  const params = new URLSearchParams();
  const source = { ...config, ui };
  for (const [key, path, type] of FIELDS) {
    const v = getPath(source, path);
    if (v === undefined || v === null) continue;
    if (defaults && OMIT_WHEN_DEFAULT.includes(key) && getPath(defaults, path) === v) continue;
    params.set(key, encodeValue(type, v));
  }
  return '#' + params.toString();
}

/** Parse a hash into {config, ui}: config is a partial session config (only what is there). */
export function decodeHash(hash) {
  const params = new URLSearchParams(String(hash || '').replace(/^#/, ''));
  const config = {};
  const ui = {};
  for (const [key, path, type] of FIELDS) {
    if (!params.has(key)) continue;
    const v = decodeValue(type, params.get(key));
    if (v === undefined) continue;
    if (path.startsWith('ui.')) ui[path.slice(3)] = v;
    else setPath(config, path, v);
  }
  return { config, ui };
}

/** True when the partial config `want` already holds in `have`. */
export function satisfied(want, have) {
  if (want == null || typeof want !== 'object' || Array.isArray(want)) {
    return JSON.stringify(want) === JSON.stringify(have);
  }
  return Object.entries(want).every(([k, v]) => have && satisfied(v, have[k]));
}
