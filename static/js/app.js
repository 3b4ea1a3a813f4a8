/* Every page: a form with data-confirm="question" asks before it is sent (no inline handlers: the
   Content-Security-Policy allows scripts from this site's files only). */
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      ev.preventDefault();
    }
  }, true);
})();

/* The menu button on narrow screens opens and closes the menu; opening one group closes the others, and a tap
   outside closes them (touch and mouse alike). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("nav-toggle");
    var bar = toggle && toggle.closest(".topbar");
    if (toggle && bar) {
      toggle.addEventListener("click", function () {
        var open = bar.classList.toggle("nav-open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
    var groups = document.querySelectorAll(".navgroup");
    groups.forEach(function (g) {
      g.addEventListener("toggle", function () {
        if (!g.open) { return; }
        groups.forEach(function (other) { if (other !== g) { other.open = false; } });
      });
    });
    document.addEventListener("click", function (ev) {
      if (!ev.target.closest || ev.target.closest(".navgroup")) { return; }
      groups.forEach(function (g) { g.open = false; });
    });
  });
})();
