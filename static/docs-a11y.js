// Swagger UI (vendored, static/vendor/swagger-ui) renders two things axe flags once an
// operation is opened: the request examples' <select> has no name, and the example's
// scrolling <pre> cannot be reached by keyboard. Fixed here in the rendered page, so the
// vendored files stay as released; routes/docs.py loads this after Swagger's bundle.
const label = (root) => {
  for (const select of root.querySelectorAll('.examples-select-element:not([aria-label])')) {
    select.setAttribute('aria-label', 'Example');
  }
  for (const pre of root.querySelectorAll('.highlight-code pre:not([tabindex]), .body-param__example:not([tabindex])')) {
    pre.setAttribute('tabindex', '0');
  }
};
new MutationObserver(() => label(document)).observe(document.documentElement, {
  childList: true,
  subtree: true,
});
