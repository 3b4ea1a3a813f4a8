/* Issue 13: the duty room's wall screen. Polls /wall/data.json every poll_s seconds and updates the page in
   place (no reload, no flicker): district tiles green/red against the target, the map's markers, the newest
   outages and the overdue tickets. The page never logs out: it is opened with a read-only display token. */
(function () {
  "use strict";
  var esc = window.FleetMap.esc;
  var cfg = JSON.parse(document.getElementById("wall-config").textContent);
  var mapCfg = JSON.parse(document.getElementById("map-config").textContent);
  var el = document.getElementById("fleet-map");
  var fm = window.FleetMap.create(el, mapCfg, { layersUrl: el.dataset.layers });
  var t = cfg.text;
  var timeFmt = new Intl.DateTimeFormat(document.documentElement.lang || "zh-CN",
    { timeZone: cfg.timezone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  var polls = 0;

  function pct(v) { return v === null || v === undefined ? "—" : v.toFixed(2) + " %"; }

  function setText(id, value) {
    var node = document.getElementById(id);
    if (node.textContent !== value) node.textContent = value;
  }

  function tiles(rows) {
    var box = document.getElementById("wall-tiles");
    var keep = {};
    rows.forEach(function (r) {
      var key = r.district;
      keep[key] = true;
      var tile = box.querySelector('[data-district="' + CSS.escape(key) + '"]');
      if (!tile) {
        tile = document.createElement("div");
        tile.className = "wall-tile";
        tile.dataset.district = key;
        tile.innerHTML = '<div class="name"></div><div class="rate"></div><div class="counts"></div>';
        box.appendChild(tile);
      }
      var cls = "wall-tile " + (r.rate_pct === null ? "none" : (r.ok ? "ok" : "bad"));
      if (tile.className !== cls) tile.className = cls;
      tile.querySelector(".name").textContent = key;
      tile.querySelector(".rate").textContent = pct(r.rate_pct);
      tile.querySelector(".counts").textContent = r.online + " / " + r.in_service + " " + t.online_of
        + (r.devices_down ? " · " + r.devices_down + " " + t.down : "");
    });
    box.querySelectorAll("[data-district]").forEach(function (n) { if (!keep[n.dataset.district]) n.remove(); });
  }

  function list(id, rows, render) {
    var html = rows.map(render).join("") || '<li class="muted">' + esc(t.none) + "</li>";
    var node = document.getElementById(id);
    if (node.innerHTML !== html) node.innerHTML = html;
  }

  function apply(d) {
    setText("wall-fleet-rate", pct(d.fleet.rate_pct));
    setText("wall-fleet-counts", d.fleet.online + " / " + d.fleet.in_service);
    setText("wall-target", String(d.target_pct));
    setText("wall-updated", timeFmt.format(new Date(d.at)));
    tiles(d.districts);
    list("wall-outages", d.outages, function (o) {
      return '<li data-device="' + esc(o.device) + '"><strong>' + esc(o.device) + "</strong> " + esc(o.kind) + " · "
        + esc(o.site_name) + ' <span class="late">' + esc(t.down_for) + " " + esc(o.duration) + "</span></li>";
    });
    list("wall-overdue", d.overdue, function (x) {
      return '<li data-ticket="' + x.id + '"><strong>#' + x.id + "</strong> " + esc(x.fault) + " · " + esc(x.site_name)
        + (x.device ? " · " + esc(x.device) : "") + ' <span class="late">' + esc(t.overdue_by) + " " + esc(x.overdue) + "</span></li>";
    });
    fm.update(d.sites);
  }

  function poll() {
    return fetch(cfg.url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    }).then(function (d) {
      apply(d);
      polls += 1;
      document.body.dataset.polls = String(polls);
      document.getElementById("wall-stale").hidden = true;
    }).catch(function () {
      document.getElementById("wall-stale").hidden = false;
    });
  }

  poll();
  setInterval(poll, Math.max(1, cfg.poll_s) * 1000);
  window.wallPoll = poll;
})();
