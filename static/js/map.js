/* Issue 13: the fleet map. Leaflet + leaflet.markercluster (vendored, no CDN). Sites come from
   /api/v1/sites.geojson (WGS-84 [lon, lat]); markers are coloured by status and clustered when zoomed out.
   With MAP_TILE_URL configured the tiles come from that (internal) server; without, the map is tile-less:
   district outlines and roads from /map/layers.json on a plain background.
   FleetMap.create(element, cfg, options) is used by the map page and by the wall screen. */
(function () {
  "use strict";

  var ORDER = { dark: 0, some_down: 1, maintenance: 2, unknown: 3, up: 4 };

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function duration(sinceIso, text) {
    if (!sinceIso) return "";
    var s = Math.max(0, (Date.now() - Date.parse(sinceIso)) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return d + " " + text.d + " " + h + " " + text.h;
    if (h) return h + " " + text.h + " " + (m < 10 ? "0" : "") + m + " " + text.min;
    return m + " " + text.min;
  }

  function icon(status) {
    return L.divIcon({
      className: "site-marker status-" + status, html: "<span></span>",
      iconSize: [22, 22], iconAnchor: [11, 11]
    });
  }

  function clusterIcon(cluster) {
    var worst = "up", n = 0;
    cluster.getAllChildMarkers().forEach(function (m) {
      n += 1;
      if (ORDER[m.options.siteStatus] < ORDER[worst]) worst = m.options.siteStatus;
    });
    return L.divIcon({
      className: "site-cluster status-" + worst, html: "<span>" + n + "</span>",
      iconSize: [40, 40], iconAnchor: [20, 20]
    });
  }

  function create(el, cfg, opts) {
    opts = opts || {};
    var text = cfg.text;
    // A tile-less map still needs zoom bounds (the cluster layer asks for maxZoom); start over China until the
    // sites are known, then fit them.
    var map = L.map(el, { zoomControl: true, attributionControl: !!cfg.tile_url, minZoom: 3,
      maxZoom: cfg.tile_url ? cfg.tile_max_zoom : 18 }).setView([35, 105], 4);
    el.classList.add(cfg.tile_url ? "with-tiles" : "tileless");
    if (cfg.tile_url) {
      L.tileLayer(cfg.tile_url, { attribution: cfg.tile_attribution, maxZoom: cfg.tile_max_zoom }).addTo(map);
    }
    var clusters = L.markerClusterGroup({
      iconCreateFunction: clusterIcon, showCoverageOnHover: false, maxClusterRadius: 50,
      disableClusteringAtZoom: 15, spiderfyOnMaxZoom: true
    });
    map.addLayer(clusters);
    var markers = {};
    var fitted = false;
    var state = { map: map, markers: markers, features: [] };

    function loadLayers() {
      if (cfg.tile_url || !opts.layersUrl) return;
      fetch(opts.layersUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (fc) {
        L.geoJSON(fc, {
          interactive: false,
          style: function (f) {
            return f.properties.kind === "district"
              ? { className: "district-outline", color: "#5b6b7f", weight: 2, fillColor: "#dfe7ef", fillOpacity: 0.55 }
              : { className: "road-line", color: "#9aa5b1", weight: 3, opacity: 0.9 };
          },
          onEachFeature: function (f, layer) {
            if (f.properties.kind === "district" && f.properties.name) {
              layer.bindTooltip(esc(f.properties.name), { permanent: true, direction: "center", className: "district-label" });
            }
          }
        }).addTo(map).bringToBack();
        el.dataset.layers = String(fc.features.length);
      });
    }

    function update(fc) {
      var seen = {};
      var changed = false;
      state.features = fc.features;
      fc.features.forEach(function (f) {
        // Geometry is WGS-84; on GCJ-02 tiles the server adds where to draw it (properties.display).
        var p = f.properties, c = p.display || f.geometry.coordinates;
        seen[p.code] = true;
        var m = markers[p.code];
        if (!m) {
          m = L.marker([c[1], c[0]], { icon: icon(p.status), siteStatus: p.status, title: p.code + " " + p.name });
          m.siteCode = p.code;
          m.on("click", function () { if (opts.onSite) opts.onSite(p.code); });
          markers[p.code] = m;
          clusters.addLayer(m);
          changed = true;
        } else if (m.options.siteStatus !== p.status) {
          m.options.siteStatus = p.status;
          m.setIcon(icon(p.status));
          changed = true;
        }
        m.setLatLng([c[1], c[0]]);
        m.bindTooltip(esc(p.code) + " " + esc(p.name) + "<br>" + esc(cfg.labels[p.status] || p.status)
          + (p.devices_down ? "<br>" + p.devices_down + " " + esc(text.devices_down) : ""));
      });
      Object.keys(markers).forEach(function (code) {
        if (!seen[code]) { clusters.removeLayer(markers[code]); delete markers[code]; changed = true; }
      });
      if (changed) clusters.refreshClusters();
      if (!fitted && fc.features.length) {
        var b = L.latLngBounds(fc.features.map(function (f) {
          var c = f.properties.display || f.geometry.coordinates;
          return [c[1], c[0]];
        }));
        map.fitBounds(b.pad(0.08));
        fitted = true;
      }
      el.dataset.sites = String(fc.features.length);
      el.dataset.updated = String(Date.now());
    }

    function focus(code) {
      var m = markers[code];
      if (!m) return;
      clusters.zoomToShowLayer(m, function () { map.panTo(m.getLatLng()); });
    }

    loadLayers();
    state.update = update;
    state.focus = focus;
    return state;
  }

  window.FleetMap = { create: create, duration: duration, esc: esc, ORDER: ORDER };

  /* ------------------------------------------------------------ the map page */
  function downList(listEl, features, cfg, onPick) {
    var rows = features.filter(function (f) {
      return f.properties.devices_down > 0 || f.properties.status === "dark";
    }).sort(function (a, b) {
      return (a.properties.down_since || "").localeCompare(b.properties.down_since || "");
    });
    var html = rows.map(function (f) {
      var p = f.properties;
      return '<li><button type="button" class="down-item status-' + esc(p.status) + '" data-site="' + esc(p.code) + '">'
        + '<span class="dot"></span><strong>' + esc(p.code) + "</strong> " + esc(p.name)
        + '<span class="muted"> · ' + p.devices_down + " " + esc(cfg.text.devices_down)
        + " · " + esc(cfg.text.down_for) + " " + esc(duration(p.down_since, cfg.text)) + "</span></button></li>";
    }).join("");
    listEl.innerHTML = html || '<li class="muted">' + esc(cfg.text.nothing_down) + "</li>";
    listEl.querySelectorAll("button[data-site]").forEach(function (b) {
      b.addEventListener("click", function () { onPick(b.dataset.site); });
    });
  }

  function showPanel(panel, url, cfg) {
    panel.hidden = false;
    panel.innerHTML = '<p class="muted">' + esc(cfg.text.loading) + "</p>";
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      var s = d.site, t = cfg.text;
      var links = s.links ? '<p class="nav-links"><a class="btn" href="' + esc(s.links.amap) + '">' + esc(cfg.navtext.amap)
        + '</a> <a class="btn" href="' + esc(s.links.baidu) + '">' + esc(cfg.navtext.baidu) + "</a></p>" : "";
      var coords = '<dl class="coords"><dt>' + esc(cfg.navtext.lon) + "</dt><dd>" + esc(s.longitude.toFixed(6))
        + "</dd><dt>" + esc(cfg.navtext.lat) + "</dt><dd>" + esc(s.latitude.toFixed(6)) + '</dd><dt></dt><dd class="muted">'
        + esc(t.wgs84) + "</dd></dl>";
      var devs = d.devices.map(function (x) {
        return '<tr><td><a href="' + esc(x.url) + '">' + esc(x.code) + "</a></td><td>" + esc(x.kind)
          + '</td><td><span class="badge badge-' + esc(x.status) + '">' + esc(x.status_label) + "</span></td></tr>";
      }).join("") || '<tr><td colspan="3" class="muted">' + esc(t.none) + "</td></tr>";
      var tks = d.tickets.map(function (x) {
        return '<li><a href="' + esc(x.url) + '">#' + x.id + "</a> " + esc(x.fault) + " · " + esc(x.state)
          + (x.device ? " · " + esc(x.device) : "") + "</li>";
      }).join("") || '<li class="muted">' + esc(t.none) + "</li>";
      panel.innerHTML = '<h2><a href="' + esc(s.url) + '">' + esc(s.code) + " " + esc(s.name) + "</a></h2>"
        + '<p class="muted">' + esc(s.district) + " · " + esc(s.road) + " " + esc(s.direction) + "</p>" + coords + links
        + "<h3>" + esc(t.devices) + '</h3><table class="list"><tbody>' + devs + "</tbody></table>"
        + "<h3>" + esc(t.tickets) + '</h3><ul class="panel-tickets">' + tks + "</ul>";
      panel.dataset.site = s.code;
    });
  }

  function initPage() {
    var el = document.getElementById("fleet-map");
    var cfgEl = document.getElementById("map-config");
    if (!el || !cfgEl || el.dataset.role !== "page") return;
    var cfg = JSON.parse(cfgEl.textContent);
    var panel = document.getElementById("site-panel");
    var list = document.getElementById("down-list");
    var fm;
    function pick(code) {
      fm.focus(code);
      showPanel(panel, el.dataset.panel.replace("__CODE__", encodeURIComponent(code)), cfg);
    }
    fm = create(el, cfg, { layersUrl: el.dataset.layers, onSite: pick });
    function refresh() {
      return fetch(el.dataset.geojson, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (fc) { fm.update(fc); downList(list, fc.features, cfg, pick); });
    }
    refresh();
    var every = parseInt(el.dataset.refresh || "30", 10) * 1000;
    setInterval(refresh, every);
    window.fleetMapRefresh = refresh; // tests and the console can ask for a refresh now
    window.fleetMap = fm;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initPage);
  else initPage();
})();
