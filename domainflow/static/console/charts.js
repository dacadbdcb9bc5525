// Charts of the transaction report, from the json_script data blocks (vendored Chart.js, no CDN).
// Every operation is labelled; the last time bucket (still filling) is drawn hatched, not as a dip.
(function () {
  "use strict";
  function data(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  const ink = dark ? "#e6eaef" : "#1d2733";
  const grid = dark ? "#33404d" : "#d5dae1";
  Chart.defaults.color = ink;
  Chart.defaults.borderColor = grid;
  const durations = data("durations-data");
  const outcomes = data("outcomes-data");
  const common = { responsive: true, maintainAspectRatio: false, animation: false };

  new Chart(document.getElementById("durations-chart"), {
    type: "bar",
    data: {
      labels: durations.labels,
      datasets: [
        { label: "p50 ms", data: durations.p50, backgroundColor: "#4e8fd6" },
        { label: "p95 ms", data: durations.p95, backgroundColor: "#e0894a" },
      ],
    },
    options: {
      ...common,
      indexAxis: "y",
      scales: {
        x: { beginAtZero: true, title: { display: true, text: "ms" } },
        y: { ticks: { autoSkip: false, color: (ctx) => (durations.failed[ctx.index] ? (dark ? "#ff9b9b" : "#a61e1e") : ink) } },
      },
    },
  });

  const partial = outcomes.partial;
  const hatch = (color) => (ctx) => (partial[ctx.dataIndex] ? color + "66" : color);
  new Chart(document.getElementById("outcomes-chart"), {
    type: "bar",
    data: {
      labels: outcomes.labels,
      datasets: [
        { label: "succeeded", data: outcomes.succeeded, backgroundColor: hatch("#2f9e44"), stack: "t" },
        { label: "failed", data: outcomes.failed, backgroundColor: hatch("#d9480f"), stack: "t" },
        { label: "retries", data: outcomes.retries, type: "line", borderColor: "#7048e8", backgroundColor: "#7048e8", yAxisID: "r" },
      ],
    },
    options: {
      ...common,
      scales: {
        x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: "transactions" } },
        r: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "retries" } },
      },
      plugins: { tooltip: { callbacks: { footer: (items) => (partial[items[0].dataIndex] ? "still filling" : "") } } },
    },
  });
})();
