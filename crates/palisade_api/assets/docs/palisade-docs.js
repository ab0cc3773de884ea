// Starts Swagger UI on GET /docs over this server's own /openapi.json. A file, not an inline
// script, so that the page's Content-Security-Policy can forbid inline scripts.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  // No top bar (it takes any URL) and no ?url= or ?configUrl= from the address bar: this page
  // shows this server's document only.
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  queryConfigEnabled: false,
  // Off: the badge sends the document to validator.swagger.io.
  validatorUrl: null,
  deepLinking: true,
  filter: true,
  displayRequestDuration: true,
  // A token entered under "Authorize" lives in this tab only, never in localStorage.
  persistAuthorization: false,
});
