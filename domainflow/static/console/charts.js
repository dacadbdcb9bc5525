// Charts of the transaction report, from the json_script data blocks (vendored Chart.js, no CDN).
(function () {
  "use strict";
  function data(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
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
    options: { ...common, indexAxis: "y", scales: { x: { beginAtZero: true, title: { display: true, text: "ms" } } } },
  });

  const times = outcomes.labels.map((iso) => new Date(iso).toLocaleString());
  new Chart(document.getElementById("outcomes-chart"), {
    type: "line",
    data: {
      labels: times,
      datasets: [
        { label: "succeeded", data: outcomes.succeeded, borderColor: "#2f9e44", backgroundColor: "#2f9e44" },
        { label: "failed", data: outcomes.failed, borderColor: "#d9480f", backgroundColor: "#d9480f" },
        { label: "retries", data: outcomes.retries, borderColor: "#7048e8", backgroundColor: "#7048e8" },
      ],
    },
    options: { ...common, scales: { y: { beginAtZero: true, title: { display: true, text: "transactions" } } } },
  });
})();
