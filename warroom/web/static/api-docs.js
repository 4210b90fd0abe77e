// The API docs page (/api/docs): Swagger UI from warroom's own copy, no CDN, no inline script.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi"),
    dom_id: "#swagger-ui",
    deepLinking: true,
  });
})();
