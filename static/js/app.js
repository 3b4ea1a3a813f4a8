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
