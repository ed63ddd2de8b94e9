// The page's own settings, chosen with its controls and kept in the URL hash, never sent to
// the server: large type, the view options, the live grid's resolution, the hash's language.
// Only setUiValue writes them (view.js's setUi calls it and applies the change to the page).

import { readOnly } from './store.js';
import { UI_DEFAULTS } from './state.js';

const record = Object.seal({ ...UI_DEFAULTS });

/** Read-only: `ui.large = true` throws; setUiValue is the only writer. */
export const ui = readOnly(record);

/** The hash's page settings at start-up (unknown names are ignored). */
export function initUi(fromHash) {
  for (const [name, value] of Object.entries(fromHash || {})) if (name in record) record[name] = value;
}

export function setUiValue(name, value) {
  if (!(name in record)) throw new Error(`unknown page setting: ${name}`);
  record[name] = value;
}
