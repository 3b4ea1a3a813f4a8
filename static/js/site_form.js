/* The site form: the "New district…" choice reveals the text input for its name (issue 13). Without script the
   input stays visible and the server decides. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-reveal]").forEach(function (sel) {
      var target = document.getElementById(sel.getAttribute("data-reveal"));
      if (!target) { return; }
      var show = function () {
        var on = sel.value === sel.getAttribute("data-reveal-value");
        target.hidden = !on;
        var input = target.querySelector("input");
        if (input) { input.required = on; if (on && document.activeElement === sel) { input.focus(); } }
      };
      sel.addEventListener("change", show);
      show();
    });
  });
})();
