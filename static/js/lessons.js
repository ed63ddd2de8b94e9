// The lesson panel: a lesson from GET /api/lessons/{id}, one step at a time. Entering a step
// applies its config (complete, so nothing lingers from the step before) as one `configure`,
// opens the instrument it points at, and, with the teacher's class page open, pushes the
// step to every student.

import { isOwner } from './channel.js';
import { configure } from './edits.js';
import { notify } from './feedback.js';
import { t, language } from './i18n.js';
import { el } from './dom.js';

const $ = (id) => document.getElementById(id);
const STORE_KEY = 'mlpg.lesson';

// Instrument hints (server/mlp_playground/classroom/lessons.py) -> the panel to open; "curves" are always on screen.
const PANELS = { initial_loss: 'inst-initial', stats: 'inst-stats', uncertainty: 'inst-uncertainty', gradcheck: 'inst-gradcheck', race: 'inst-race' };

let classroom = null; // the teacher's class page: a step goes to every student too
let onApply = () => {}; // called before a step's config is sent (live.js mutes the reset toast)

export const lessons = {
  list: [],
  lesson: null,
  index: 0,

  async open() {
    $('lesson-panel').hidden = false;
    $('btn-lesson').setAttribute('aria-pressed', 'true');
    if (!this.list.length) await this.loadList();
    if (!this.list.length) { $('lesson-step-title').textContent = t('lesson.none'); return; }
    const saved = readSaved();
    const id = this.list.some((l) => l.id === saved.id) ? saved.id : this.list[0].id;
    if (!this.lesson || this.lesson.id !== id) await this.load(id, saved.id === id ? saved.index : 0);
    else this.render();
  },

  close() {
    $('lesson-panel').hidden = true;
    $('btn-lesson').setAttribute('aria-pressed', 'false');
  },

  async loadList() {
    try {
      const r = await fetch('/api/lessons');
      if (r.ok) this.list = await r.json();
    } catch { /* offline: the panel says there is none */ }
    const pick = $('lesson-pick');
    pick.replaceChildren(...this.list.map((l) => el('option', { value: l.id }, pickText(l.title))));
  },

  async load(id, index = 0) {
    const r = await fetch(`/api/lessons/${encodeURIComponent(id)}`);
    if (!r.ok) { notify(t('err.generic', { message: `HTTP ${r.status}` }), 'error'); return; }
    this.lesson = await r.json();
    $('lesson-pick').value = id;
    this.go(Math.max(0, Math.min(index, this.lesson.steps.length - 1)));
  },

  /** Show step i; `apply` sends its config (entering a step), false on a plain re-open. */
  go(i, apply = true) {
    if (!this.lesson) return;
    this.index = i;
    writeSaved(this.lesson.id, i);
    this.render();
    const step = this.lesson.steps[i];
    if (apply && isOwner()) {
      onApply(); // the step says what changed; no reset toast
      configure(step.config);
      this.openInstrument(step.instrument);
      if (classroom?.connected) {
        classroom.push({ config: step.config });
        notify(t('lesson.pushed'), 'info', 2500);
      }
    }
  },

  openInstrument(hint) {
    const id = hint && PANELS[hint.kind];
    if (id && $(id)) $(id).open = true;
  },

  step() { return this.lesson ? this.lesson.steps[this.index] : null; },

  render() {
    const lesson = this.lesson;
    if (!lesson) return;
    const step = lesson.steps[this.index];
    $('lesson-count').textContent = t('lesson.step', { n: this.index + 1, total: lesson.steps.length });
    $('lesson-step-title').textContent = pickText(step.title);
    $('lesson-text').textContent = pickText(step.text);
    $('lesson-prev').disabled = this.index === 0;
    $('lesson-next').disabled = this.index >= lesson.steps.length - 1;
    const inClass = !!classroom?.connected;
    $('lesson-push').hidden = !inClass;
    $('class-push-step').hidden = !inClass;
  },

  retranslate() {
    this.list.forEach((l, i) => { const o = $('lesson-pick').options[i]; if (o) o.textContent = pickText(l.title); });
    this.render();
  },

  /** @param {object} deps {classroom, onApply()}: the class page, and a hook run before a step applies */
  wire(deps = {}) {
    classroom = deps.classroom || null;
    onApply = deps.onApply || onApply;
    $('btn-lesson').addEventListener('click', () => ($('lesson-panel').hidden ? this.open() : this.close()));
    $('lesson-close').addEventListener('click', () => this.close());
    $('lesson-prev').addEventListener('click', () => this.go(this.index - 1));
    $('lesson-next').addEventListener('click', () => this.go(this.index + 1));
    $('lesson-pick').addEventListener('change', (e) => this.load(e.target.value, 0));
    const pushStep = () => {
      const step = this.step();
      if (step && classroom?.connected) { classroom.push({ config: step.config }); notify(t('class.pushed_all'), 'info', 2500); }
    };
    $('lesson-push').addEventListener('click', pushStep);
    $('class-push-step').addEventListener('click', pushStep);
  },
};

/** A {en, fr} text in the page's language (English when the language has none). */
function pickText(v) {
  if (v == null || typeof v === 'string') return v || '';
  return v[language()] ?? v.en ?? '';
}

function readSaved() {
  try { return JSON.parse(localStorage.getItem(STORE_KEY) || '{}') || {}; } catch { return {}; }
}

function writeSaved(id, index) {
  try { localStorage.setItem(STORE_KEY, JSON.stringify({ id, index })); } catch { /* private mode */ }
}
