// Every label and message in English and French. `t(key, params)` formats a message;
// `translatePage(root)` fills elements marked with data-i18n / data-i18n-title.
// The lecture this tool serves is taught in French, so French is a first-class language.

import { INSTRUMENT_STRINGS } from './i18n-instruments.js';
import { CLASS_STRINGS } from './i18n-class.js';

const STRINGS = {
  en: {
    'app.title': 'MLP Playground',
    'btn.play': 'Play (space)', 'btn.pause': 'Pause (space)', 'btn.step': 'One step (s)',
    'btn.reset': 'Reset weights (r)', 'btn.reseed': 'New random seed',
    'btn.share': 'Share to watch', 'btn.large': 'Large type',
    'btn.regenerate': 'Regenerate', 'btn.clear': 'Clear points',
    'btn.upload': 'Upload CSV', 'btn.download': 'Download CSV',
    'btn.png': 'Save PNG', 'btn.export': 'Export model', 'btn.import': 'Import model',
    'btn.copy': 'Copy', 'btn.close': 'Close', 'btn.copied': 'Copied',
    'btn.add_layer': 'Add a hidden layer', 'btn.remove_layer': 'Remove the last hidden layer',
    'btn.add_unit': 'Add a unit', 'btn.remove_unit': 'Remove a unit',
    'btn.eraser': 'Eraser: tap a point to remove it',
    'm.epoch': 'Epoch', 'm.step': 'Step', 'm.train_loss': 'Train loss',
    'm.val_loss': 'Validation loss', 'm.train_acc': 'Train accuracy',
    'm.val_acc': 'Validation accuracy', 'm.sps': 'Steps/s',
    'panel.data': 'Data', 'panel.network': 'Network', 'panel.optimizer': 'Optimiser',
    'panel.output': 'Output',
    'data.addpoints': 'Click to add points', 'data.hint':
      'Shift-click: next class · right-click or alt-click: remove',
    'c.dataset': 'Dataset', 'c.n_points': 'Points', 'c.noise': 'Noise', 'c.classes': 'Classes',
    'c.validation_split': 'Validation split', 'c.show_validation': 'Show validation points',
    'c.discretize': 'Discretise output', 'c.features': 'Features', 'c.normalize': 'Normalise inputs',
    'c.activation': 'Activation', 'c.init': 'Initialisation', 'c.dropout': 'Dropout',
    'c.loss': 'Loss', 'c.regularization': 'Regularisation', 'c.strength': 'Strength',
    'c.optimizer': 'Optimiser', 'c.learning_rate': 'Learning rate', 'c.momentum': 'Momentum',
    'c.decay_rate': 'Decay rate', 'c.beta1': 'β1', 'c.beta2': 'β2', 'c.epsilon': 'ε',
    'c.batch_size': 'Batch size', 'c.speed': 'Speed (steps/s)', 'c.seed': 'Seed',
    'c.grid_resolution': 'Grid resolution', 'c.layer': 'Layer {n}',
    'c.shuffle': 'Shuffle',
    'speed.max': 'max', 'speed.max_button': 'Max',
    'layers.count': { zero: 'no hidden layer', one: '{n} hidden layer', other: '{n} hidden layers' },
    'diagram.inputs': 'Inputs', 'diagram.output': 'Output', 'diagram.units': { one: '{n} unit', other: '{n} units' },
    'diagram.weight': 'weight {from} → {to}: {w}', 'diagram.unit': 'layer {l}, unit {u}',
    'chart.loss': 'Loss', 'chart.log': 'log scale', 'chart.accuracy': 'Accuracy',
    'chart.train': 'train', 'chart.validation': 'validation', 'chart.step': 'step',
    'share.title': 'Watch this session live',
    'share.text': 'Students open this link to follow the training (read-only):',
    'watch.note': 'Watching a live session (read-only)',
    'banner.reconnecting': 'Connection lost — reconnecting…',
    'banner.connecting': 'Connecting…',
    'banner.watch_ended': 'The session you were watching has ended.',
    'msg.connected': 'Connected.', 'msg.reconnected': 'Reconnected; session resumed.',
    'msg.new_session': 'Reconnected to a new session; your settings were restored.',
    'msg.csv_line': 'CSV line {line}: {message}',
    'msg.csv_loaded': { one: 'Loaded {n} point from {name}.', other: 'Loaded {n} points from {name}.' },
    'msg.csv_empty': 'The CSV file has no data rows.',
    'msg.csv_fields': 'expected 3 values x1,x2,label, got {n}',
    'msg.csv_number': '"{value}" is not a number',
    'msg.csv_quote': 'a quoted field is not closed, or text follows its closing quote',
    'msg.csv_label': 'label "{value}" must be an integer from 0 to {max}',
    'msg.model_exported': 'Model exported.',
    'msg.model_bad': 'This model could not be imported: {message}',
    'msg.model_imported': 'Model imported.',
    'msg.no_data': 'No data to download yet.',
    'msg.read_only': 'This page is watching; it cannot change the session.',
    'ev.diverged': 'Training diverged at step {step} with learning rate {learning_rate}; weights rolled back, paused.',
    'ev.reset': 'Weights re-initialised.',
    'ev.playing': 'Training.', 'ev.paused': 'Paused.', 'ev.stopped': 'Training stopped: {message}',
    'err.generic': 'Error: {message}',
    'err.field': 'Error in {field}: {message}',
  },
  fr: {
    'app.title': 'Terrain de jeu MLP',
    'btn.play': 'Lancer (espace)', 'btn.pause': 'Pause (espace)', 'btn.step': 'Un pas (s)',
    'btn.reset': 'Réinitialiser les poids (r)', 'btn.reseed': 'Nouvelle graine aléatoire',
    'btn.share': 'Partager', 'btn.large': 'Grands caractères',
    'btn.regenerate': 'Régénérer', 'btn.clear': 'Effacer les points',
    'btn.upload': 'Charger un CSV', 'btn.download': 'Télécharger le CSV',
    'btn.png': 'Enregistrer en PNG', 'btn.export': 'Exporter le modèle',
    'btn.import': 'Importer un modèle',
    'btn.copy': 'Copier', 'btn.close': 'Fermer', 'btn.copied': 'Copié',
    'btn.add_layer': 'Ajouter une couche cachée', 'btn.remove_layer': 'Retirer la dernière couche cachée',
    'btn.add_unit': 'Ajouter un neurone', 'btn.remove_unit': 'Retirer un neurone',
    'btn.eraser': 'Gomme : touchez un point pour le retirer',
    'm.epoch': 'Époque', 'm.step': 'Pas', 'm.train_loss': 'Perte (apprentissage)',
    'm.val_loss': 'Perte (validation)', 'm.train_acc': 'Précision (apprentissage)',
    'm.val_acc': 'Précision (validation)', 'm.sps': 'Pas/s',
    'panel.data': 'Données', 'panel.network': 'Réseau', 'panel.optimizer': 'Optimiseur',
    'panel.output': 'Sortie',
    'data.addpoints': 'Cliquez pour ajouter des points', 'data.hint':
      'Maj-clic : classe suivante · clic droit ou Alt-clic : retirer',
    'c.dataset': 'Jeu de données', 'c.n_points': 'Points', 'c.noise': 'Bruit', 'c.classes': 'Classes',
    'c.validation_split': 'Part de validation', 'c.show_validation': 'Afficher les points de validation',
    'c.discretize': 'Sortie discrète', 'c.features': 'Entrées', 'c.normalize': 'Normaliser les entrées',
    'c.activation': 'Activation', 'c.init': 'Initialisation', 'c.dropout': 'Dropout',
    'c.loss': 'Perte', 'c.regularization': 'Régularisation', 'c.strength': 'Intensité',
    'c.optimizer': 'Optimiseur', 'c.learning_rate': 'Pas d’apprentissage', 'c.momentum': 'Moment',
    'c.decay_rate': 'Taux de décroissance', 'c.beta1': 'β1', 'c.beta2': 'β2', 'c.epsilon': 'ε',
    'c.batch_size': 'Taille du lot', 'c.speed': 'Vitesse (pas/s)', 'c.seed': 'Graine',
    'c.grid_resolution': 'Résolution de la grille', 'c.layer': 'Couche {n}',
    'c.shuffle': 'Mélanger',
    'speed.max': 'max', 'speed.max_button': 'Max',
    'layers.count': { zero: 'aucune couche cachée', one: '{n} couche cachée', other: '{n} couches cachées' },
    'diagram.inputs': 'Entrées', 'diagram.output': 'Sortie', 'diagram.units': { one: '{n} neurone', other: '{n} neurones' },
    'diagram.weight': 'poids {from} → {to} : {w}', 'diagram.unit': 'couche {l}, neurone {u}',
    'chart.loss': 'Perte', 'chart.log': 'échelle log', 'chart.accuracy': 'Précision',
    'chart.train': 'apprentissage', 'chart.validation': 'validation', 'chart.step': 'pas',
    'share.title': 'Suivre cette session en direct',
    'share.text': 'Les étudiants ouvrent ce lien pour suivre l’apprentissage (lecture seule) :',
    'watch.note': 'Vous suivez une session en direct (lecture seule)',
    'banner.reconnecting': 'Connexion perdue — reconnexion…',
    'banner.connecting': 'Connexion…',
    'banner.watch_ended': 'La session que vous suiviez est terminée.',
    'msg.connected': 'Connecté.', 'msg.reconnected': 'Reconnecté ; session reprise.',
    'msg.new_session': 'Reconnecté à une nouvelle session ; vos réglages ont été restaurés.',
    'msg.csv_line': 'CSV ligne {line} : {message}',
    'msg.csv_loaded': { one: '{n} point chargé depuis {name}.', other: '{n} points chargés depuis {name}.' },
    'msg.csv_empty': 'Le fichier CSV ne contient aucune ligne de données.',
    'msg.csv_fields': '3 valeurs attendues x1,x2,classe, {n} trouvées',
    'msg.csv_number': '« {value} » n’est pas un nombre',
    'msg.csv_quote': 'un champ entre guillemets n’est pas refermé, ou du texte suit le guillemet fermant',
    'msg.csv_label': 'la classe « {value} » doit être un entier de 0 à {max}',
    'msg.model_exported': 'Modèle exporté.',
    'msg.model_bad': 'Ce modèle n’a pas pu être importé : {message}',
    'msg.model_imported': 'Modèle importé.',
    'msg.no_data': 'Pas encore de données à télécharger.',
    'msg.read_only': 'Cette page suit la session ; elle ne peut pas la modifier.',
    'ev.diverged': 'L’apprentissage a divergé au pas {step} avec un pas d’apprentissage de {learning_rate} ; poids restaurés, en pause.',
    'ev.reset': 'Poids réinitialisés.',
    'ev.playing': 'Apprentissage en cours.', 'ev.paused': 'En pause.',
    'ev.stopped': 'Apprentissage arrêté : {message}',
    'err.generic': 'Erreur : {message}',
    'err.field': 'Erreur sur {field} : {message}',
  },
};

for (const [l, d] of Object.entries(INSTRUMENT_STRINGS)) Object.assign(STRINGS[l], d);
for (const [l, d] of Object.entries(CLASS_STRINGS)) Object.assign(STRINGS[l], d);

let lang = 'en';

/** Pick the default language from the browser (French if it asks for French). */
export function detectLanguage(navLang) {
  return String(navLang || '').toLowerCase().startsWith('fr') ? 'fr' : 'en';
}

export function setLanguage(l) {
  lang = STRINGS[l] ? l : 'en';
}

export function language() {
  return lang;
}

export function languages() {
  return Object.keys(STRINGS);
}

export function hasKey(key) {
  return key in STRINGS[lang];
}

/**
 * Translate `key`, replacing `{name}` with params.name. Unknown keys show themselves. An entry
 * may be a set of plural forms ({zero, one, other}, Intl.PluralRules categories) chosen by
 * params.n. Number params are printed the language's way (see formatParam).
 */
export function t(key, params = {}) {
  let s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  if (typeof s === 'object') s = pluralForm(s, params.n);
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? formatParam(params[k]) : m));
}

function pluralForm(forms, n) {
  if (typeof n !== 'number') return forms.other;
  if (n === 0 && forms.zero) return forms.zero;
  return forms[pluralRules().select(n)] ?? forms.other;
}

// ---------------------------------------------------------------- numbers

// One formatter per language and style, built on first use (they are costly to make and the
// counters print ten times a second).
const formatters = new Map();

function numberFormat(options) {
  const key = `${lang}|${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) { f = new Intl.NumberFormat(lang, options); formatters.set(key, f); }
  return f;
}

function pluralRules() {
  const key = `${lang}|plural`;
  let f = formatters.get(key);
  if (!f) { f = new Intl.PluralRules(lang); formatters.set(key, f); }
  return f;
}

const DASH = '–';

/** A number with Intl options (grouping, fraction digits...) in the current language. */
export function formatNumber(v, options = {}) {
  if (v == null || !Number.isFinite(v)) return DASH;
  return numberFormat(options).format(v);
}

/** An integer count or index ("12,345" / "12 345"); grouping off for counters read by eye. */
export function formatInt(v, grouping = true) {
  return formatNumber(v == null ? v : Math.round(v), { maximumFractionDigits: 0, useGrouping: grouping });
}

/** "1.23e-5" / "1,23e-5": the mantissa the language's way, the exponent as code prints it. */
function exponential(v, digits) {
  const [m, e] = v.toExponential(digits).split('e');
  const mantissa = formatNumber(+m, { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false });
  return `${mantissa}e${e.replace('+', '')}`;
}

/** A number for a table or a label: `digits` significant digits, exponent when tiny or huge. */
export function fmt(v, digits = 4) {
  if (v == null || !Number.isFinite(v)) return DASH;
  if (v === 0) return formatNumber(0);
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return exponential(v, 2);
  return formatNumber(v, { maximumSignificantDigits: digits, useGrouping: false });
}

/** A loss: three decimals near 1, four below, none from 100 on, an exponent when tiny. */
export function fmtLoss(v) {
  if (v == null || !Number.isFinite(v)) return DASH;
  const fixed = (d) => formatNumber(v, { minimumFractionDigits: d, maximumFractionDigits: d, useGrouping: false });
  if (v >= 100) return fixed(0);
  if (v >= 1) return fixed(3);
  if (v >= 0.001 || v === 0) return fixed(4);
  return exponential(v, 2);
}

/** A fraction as a percentage: "97.5%" / "97,5 %". */
export function fmtPercent(v, digits = 1) {
  return formatNumber(v, { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A message parameter: integers grouped, other numbers to 4 significant digits. */
function formatParam(v) {
  if (typeof v !== 'number') return String(v);
  return Number.isInteger(v) ? formatInt(v) : fmt(v);
}

/** Fill the text and titles of every marked element under `root`. */
export function translatePage(root) {
  root.querySelectorAll('[data-i18n]').forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
  root.querySelectorAll('[data-i18n-title]').forEach((el) => {
    el.title = t(el.dataset.i18nTitle);
    el.setAttribute('aria-label', el.title);
  });
  root.documentElement && (root.documentElement.lang = lang);
}

export const DICTIONARIES = STRINGS;
