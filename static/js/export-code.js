// "Export as code": the current network (trained weights) or the current config (a training
// script) as a standalone NumPy or PyTorch script, from POST /export (docs/export.md).

import { requestModel } from './live.js';
import { isDataCustom } from './edits.js';
import { download, notify } from './feedback.js';
import { session } from './session.js';

const $ = (id) => document.getElementById(id);
const LIVE_ONLY = new Set(['speed']); // config fields a /train body does not take

/** The session's config as a /train body, with the user's points when they are custom. */
export function trainBody() {
  const body = {};
  for (const [key, value] of Object.entries(session.config || {})) {
    if (!LIVE_ONLY.has(key)) body[key] = value;
  }
  if (isDataCustom() && session.data) {
    const { points, labels, classes } = session.data;
    body.dataset = null;
    body.data = { points, labels, classes };
  }
  return body;
}

/** Ask the server for the script chosen in the two selects and download it. */
export async function exportCode() {
  const format = $('export-code-format').value;
  const kind = $('export-code-kind').value;
  const payload = kind === 'model'
    ? { format, model: await requestModel() }
    : { format, train: trainBody() };
  const r = await fetch('/export', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  if (!r.ok) {
    const detail = await r.json().catch(() => null);
    notify(detail?.detail?.[0]?.msg || `Export failed (${r.status})`, 'error', 6000);
    return;
  }
  download(`mlp-playground-${kind === 'model' ? 'model' : 'train'}-${format}.py`, await r.text(), 'text/x-python');
  notify('Script downloaded', 'info', 3000);
}

export function wireExportCode() {
  $('btn-export-code').addEventListener('click', exportCode);
}
