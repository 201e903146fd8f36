/* /docs: docs/openapi.yaml rendered by Redoc (web/vendor/redoc.standalone.js, from npm).
 * Redoc's code samples are scrollable <pre> boxes that a keyboard cannot reach (axe-core:
 * scrollable-region-focusable, serious); each one it renders is made focusable. */
'use strict';
const root = document.getElementById('redoc');
new MutationObserver(() => {
  for (const pre of root.querySelectorAll('pre:not([tabindex])')) {
    pre.setAttribute('tabindex', '0');
  }
}).observe(root, { childList: true, subtree: true });
Redoc.init('/docs/openapi.yaml', { hideDownloadButton: false }, root);
