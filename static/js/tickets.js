/* The crew's tablet: countdowns, drafts that survive a failed send, resend with the same request id, check-in location. */
(function () {
  "use strict";
  // The page's words come on the script tag (data-late, data-left): the Content-Security-Policy allows no inline script.
  var T = (document.currentScript && document.currentScript.dataset) || {};

  // Each countdown names its deadline ("到场剩余 1:20", "修复超时 0:05") from its own data-left / data-late.
  function fmt(ms, el) {
    var late = ms < 0, s = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    var txt = h + ":" + (m < 10 ? "0" : "") + m;
    var words = late ? (el.getAttribute("data-late") || T.late || "late") : (el.getAttribute("data-left") || T.left || "left");
    return words + " " + txt;
  }

  function tick() {
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var ms = Date.parse(el.getAttribute("data-due")) - Date.now();
      el.textContent = fmt(ms, el);
      el.classList.toggle("late", ms < 0);
      el.classList.toggle("soon", ms >= 0 && ms < 30 * 60 * 1000);
    });
  }

  // Drafts: what was typed is kept in localStorage until the server accepted the form.
  function draftKey(form) { return "fleetops-draft:" + form.getAttribute("data-draft"); }

  function saveDraft(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "file" || el.name === "csrf_token") { return; }
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked) { (data[el.name] = data[el.name] || []).push(el.value); }
      } else { data[el.name] = el.value; }
    });
    try { localStorage.setItem(draftKey(form), JSON.stringify(data)); } catch (e) { /* storage full or off */ }
  }

  function restoreDraft(form) {
    var raw = null;
    try { raw = localStorage.getItem(draftKey(form)); } catch (e) { return; }
    if (!raw) { return; }
    var data = JSON.parse(raw);
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !(el.name in data) || el.type === "file" || el.name === "csrf_token") { return; }
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = data[el.name].indexOf(el.value) >= 0;
      } else { el.value = data[el.name]; }  // the request id too: a resend is recognised as the same action
    });
    form.classList.add("restored");
  }

  function clearDraft(form) { try { localStorage.removeItem(draftKey(form)); } catch (e) { /* ignore */ } }

  function banner(form, show) {
    var b = document.getElementById("offline-banner");
    if (b) { b.classList.toggle("show", show); }
  }

  function locate(form) {
    return new Promise(function (resolve) {
      if (!form.hasAttribute("data-geolocate") || !navigator.geolocation) { resolve(); return; }
      navigator.geolocation.getCurrentPosition(function (pos) {
        form.elements.lat.value = pos.coords.latitude.toFixed(6);
        form.elements.lon.value = pos.coords.longitude.toFixed(6);
        resolve();
      }, function () { resolve(); }, {timeout: 5000, maximumAge: 60000});
    });
  }

  function send(form, event) {
    event.preventDefault();
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    saveDraft(form);
    locate(form).then(function () {
      // getAttribute: a field named "action" shadows form.action
      return fetch(form.getAttribute("action") || window.location.href, {method: "POST", body: new FormData(form), credentials: "same-origin",
                                 headers: {"X-Requested-With": "fetch"}});
    }).then(function (resp) {
      if (resp.status >= 500) { throw new Error("server " + resp.status); }
      clearDraft(form);
      window.location.assign(resp.url || window.location.href);
    }).catch(function () {
      banner(form, true);
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 15000);
    document.querySelectorAll("form[data-draft]").forEach(function (form) {
      restoreDraft(form);
      form.addEventListener("input", function () { saveDraft(form); });
      form.addEventListener("change", function () { saveDraft(form); });
      form.addEventListener("submit", function (e) { send(form, e); });
    });
  });
}());
