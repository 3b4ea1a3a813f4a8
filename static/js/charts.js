/* Issue 13: every chart through ECharts (vendored), rendered from a JSON data island
   <script type="application/json" id="…"> named by the chart element's data-chart attribute.
   Rate charts: a time axis in the configured TIMEZONE, the target as a dashed line, a y-scale from the data's
   minimum − 2 points (so dips under the target show), gaps as gaps (null points break the line), a legend, and
   the last point equal to the tile beside the chart (the server makes it so). Bar charts: categories and counts. */
(function () {
  "use strict";
  if (!window.echarts) return;

  var COLOURS = ["#0b5cad", "#6b4fbb", "#1b7f3b"];

  function fmt(tz, opts) {
    try { return new Intl.DateTimeFormat(document.documentElement.lang || "zh-CN", Object.assign({ timeZone: tz, hour12: false }, opts)); }
    catch (e) { return new Intl.DateTimeFormat(undefined, Object.assign({ hour12: false }, opts)); }
  }

  function rateOption(d) {
    var hm = fmt(d.timezone, { hour: "2-digit", minute: "2-digit" });
    var full = fmt(d.timezone, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
    var series = d.series.map(function (s, i) {
      return {
        name: d.labels[s.key] || s.key, type: "line", data: s.points, connectNulls: false,
        showSymbol: s.points.length <= 48, symbolSize: 6, lineStyle: { width: 2.5 }, color: COLOURS[i % COLOURS.length],
        endLabel: { show: true, formatter: function (p) { return p.value[1] == null ? "" : p.value[1].toFixed(2) + " %"; } }
      };
    });
    series.push({
      name: d.labels.target, type: "line", data: [[d.start, d.target], [d.end, d.target]], symbol: "none",
      color: "#b3261e", lineStyle: { type: "dashed", width: 1.5 }, silent: true, tooltip: { show: false }
    });
    return {
      animation: false,
      grid: { left: 56, right: 80, top: 40, bottom: 36 },
      legend: { top: 4, data: series.map(function (s) { return s.name; }) },
      tooltip: {
        trigger: "axis",
        formatter: function (ps) {
          var head = ps.length ? full.format(new Date(ps[0].value[0])) : "";
          return head + ps.map(function (p) {
            var v = p.value[1];
            return "<br>" + p.marker + p.seriesName + ": " + (v == null ? "—" : v.toFixed(2) + " %");
          }).join("");
        }
      },
      xAxis: {
        type: "time", min: d.start, max: d.end,
        axisLabel: { formatter: function (v) { return hm.format(new Date(v)); }, hideOverlap: true }
      },
      yAxis: { type: "value", min: d.y_min, max: d.y_max, axisLabel: { formatter: "{value} %" } },
      series: series
    };
  }

  function barsOption(d) {
    return {
      animation: false,
      grid: { left: 40, right: 16, top: 30, bottom: 40 },
      legend: { top: 0, data: [d.label] },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: d.categories, axisLabel: { interval: 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{
        name: d.label, type: "bar", data: d.values.map(function (v, i) { return { value: v, itemStyle: { color: d.colours[i] } }; }),
        label: { show: true, position: "top" }
      }]
    };
  }

  function render(el) {
    var island = document.getElementById(el.dataset.chart);
    if (!island) return;
    var d = JSON.parse(island.textContent);
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption(d.kind === "bars" ? barsOption(d) : rateOption(d));
    if (d.kind !== "bars") {
      var last = d.series.length ? d.series[0].points[d.series[0].points.length - 1] : null;
      el.dataset.last = last && last[1] != null ? last[1].toFixed(2) : "";
    }
    el.dataset.rendered = "1";
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function init() { document.querySelectorAll("[data-chart]").forEach(render); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
