// The dashboard's charts (admin home): each is drawn with ECharts from the table of numbers
// beside it, so the chart, the screen reader and the copied table show the same figures.
// Drawn when a panel arrives (htmx swaps it in) and redrawn when the window is resized.
(function () {
  "use strict";

  var palette = ["#2f6f8f", "#d9822b", "#5b8c3a", "#a23b72", "#7a6f9b", "#c4a000"];

  function rows(figure) {
    return Array.prototype.map.call(figure.querySelectorAll("tbody tr"), function (row) {
      return {
        label: row.querySelector("th").textContent.trim(),
        cells: Array.prototype.map.call(row.querySelectorAll("td"), function (cell) {
          var raw = cell.getAttribute("data-value");
          return raw === null || raw === "" ? null : Number(raw);
        })
      };
    });
  }

  function columns(figure) {
    return Array.prototype.map.call(figure.querySelectorAll("thead th[scope=col]"), function (th) {
      return { name: th.textContent.trim(), series: th.getAttribute("data-series") };
    }).slice(1);
  }

  function options(kind, figure) {
    var data = rows(figure);
    var labels = data.map(function (row) { return row.label; });
    var heads = columns(figure);
    var base = { color: palette, animation: false, tooltip: { trigger: kind === "pie" || kind === "funnel" ? "item" : "axis" } };
    if (kind === "pie" || kind === "funnel") {
      base.series = [{
        type: kind, radius: kind === "pie" ? ["35%", "70%"] : undefined, sort: "none",
        label: { formatter: "{b}: {c}" },
        data: data.map(function (row) { return { name: row.label, value: row.cells[0] }; })
      }];
      return base;
    }
    if (kind === "gauge") {
      var share = data[0].cells[0];
      base.series = [{
        type: "gauge", min: 0, max: 100, detail: { formatter: share === null ? "—" : "{value}%" },
        data: [{ value: share === null ? 0 : share }]
      }];
      return base;
    }
    // A series per column that names one: bars on the first axis, lines on the second.
    base.legend = { top: 0 };
    base.grid = { top: 36, left: 56, right: 56, bottom: 28 };
    base.xAxis = { type: "category", data: labels };
    base.yAxis = [{ type: "value" }, { type: "value" }];
    base.series = [];
    heads.forEach(function (head, index) {
      if (!head.series) { return; }
      base.series.push({
        name: head.name, type: head.series === "bar" ? "bar" : "line", connectNulls: false,
        yAxisIndex: (head.series === "bar" || (head.series === "line" && kind === "trend")) ? 0 : 1,
        data: data.map(function (row) { return row.cells[index]; })
      });
    });
    return base;
  }

  function draw(root) {
    if (typeof window.echarts === "undefined") { return; }
    Array.prototype.forEach.call(root.querySelectorAll("figure[data-chart]"), function (figure) {
      var target = figure.querySelector(".chart");
      var chart = window.echarts.getInstanceByDom(target) || window.echarts.init(target, null, { renderer: "svg" });
      chart.setOption(options(figure.getAttribute("data-chart"), figure), true);
      figure.setAttribute("data-drawn", "true");
    });
  }

  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  window.addEventListener("resize", function () {
    Array.prototype.forEach.call(document.querySelectorAll("figure[data-chart] .chart"), function (target) {
      var chart = window.echarts && window.echarts.getInstanceByDom(target);
      if (chart) { chart.resize(); }
    });
  });
})();
