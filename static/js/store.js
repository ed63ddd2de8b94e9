// State records with one owner. The owner keeps a sealed record (no field can be added, so a
// typo or a stray global write fails instead of growing the state) and hands everyone else a
// frozen read-only view of it: a write through the view throws in a module (strict mode).

/** A frozen view whose fields read `source`'s current values and cannot be assigned. */
export function readOnly(source) {
  const view = {};
  for (const key of Object.keys(source)) {
    Object.defineProperty(view, key, { get: () => source[key], enumerable: true });
  }
  return Object.freeze(view);
}
