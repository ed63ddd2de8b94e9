// Files in and out: a CSV of points (parsed here, so a teacher sees "line 7: ..." before
// anything is sent), and a model document loaded into the live session.

import { currentSocket, isOwner, limits, wantWeights } from './channel.js';
import { dropDraft, editPoints } from './edits.js';
import { notify } from './feedback.js';
import { session } from './session.js';
import { parseCsv } from './csv.js';
import { t } from './i18n.js';

export async function uploadCsv(file) {
  const text = await file.text();
  const maxClasses = limits().max_classes;
  const result = parseCsv(text, maxClasses);
  if (result.error) {
    const msg = t(`msg.csv_${result.error.code}`, { max: maxClasses - 1, ...result.error.params });
    notify(t('msg.csv_line', { line: result.error.line, message: msg }), 'error', 15000);
    return;
  }
  if (!result.points.length) { notify(t('msg.csv_empty'), 'error'); return; }
  editPoints({ type: 'set_data', points: result.points, labels: result.labels });
  notify(t('msg.csv_loaded', { n: result.points.length, name: file.name }), 'info', 4000);
}

/**
 * Load a model document into the live session with POST /sessions/{id}/model (any size the
 * network limits allow): the server reshapes the network, loads the weights and the
 * document's normalisation, and tells every connection (config, reset event, new frames).
 */
export async function importModel(file) {
  let doc;
  try {
    doc = JSON.parse(await file.text());
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a JSON object');
  } catch (e) {
    notify(t('msg.model_bad', { message: e.message }), 'error', 10000);
    return;
  }
  const id = session.sessionId;
  if (!id || !isOwner()) return;
  dropDraft(); // the document's network replaces whatever was on its way
  let message;
  try {
    const r = await fetch(`/sessions/${encodeURIComponent(id)}/model`, {
      method: 'POST',
      // The owner's secret from its hello: the session id alone is public.
      headers: { 'Content-Type': 'application/json', 'X-Resume-Key': currentSocket()?.resumeKey || '' },
      body: JSON.stringify(doc),
    });
    if (r.ok) {
      wantWeights();
      notify(t('msg.model_imported'), 'info', 4000);
      return;
    }
    const body = await r.json().catch(() => ({}));
    message = (Array.isArray(body.detail) ? body.detail[0]?.msg : body.detail) || `HTTP ${r.status}`;
  } catch (e) {
    message = e.message;
  }
  notify(t('msg.model_bad', { message }), 'error', 12000);
}
