// Klar's only script: search-as-you-type and live counts. Pages work without it.
"use strict";
(function () {
  function debounce(fn, ms) {
    let t = null;
    return function () {
      clearTimeout(t);
      const args = arguments;
      t = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }
  function wire(input) {
    const url = input.getAttribute("data-live-search");
    const target = document.getElementById(input.getAttribute("data-live-target"));
    if (!url || !target) return;
    let seq = 0;
    const run = debounce(function () {
      const form = input.form;
      const params = new URLSearchParams(form ? new FormData(form) : undefined);
      params.set(input.name, input.type === "checkbox" && !input.checked ? "" : input.value);
      // Only the named fields go into the URL (never a mail body or the CSRF token).
      const only = input.getAttribute("data-live-fields");
      if (only) {
        const keep = only.split(" ");
        Array.from(params.keys()).forEach(function (k) { if (keep.indexOf(k) < 0) params.delete(k); });
      }
      const mine = ++seq;
      fetch(url + "?" + params.toString(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null && mine === seq) {
            target.innerHTML = html;
            target.setAttribute("aria-busy", "false");
          }
        })
        .catch(function () {});
      target.setAttribute("aria-busy", "true");
    }, 150);
    input.addEventListener("input", run);
    input.addEventListener("change", run);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-search]").forEach(wire);
  });
})();
