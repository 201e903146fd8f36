/* /docs: docs/openapi.yaml rendered by Redoc (web/vendor/redoc.standalone.js, from npm). */
'use strict';
Redoc.init('/docs/openapi.yaml', { hideDownloadButton: false, disableSearch: false },
           document.getElementById('redoc'));
