// Live progress: polls the progress JSON for the rows on this page and updates them in place.
// Text only (textContent), never HTML: campaign names and errors are data.
(function () {
  "use strict";
  const table = document.getElementById("campaigns");
  if (!table) return;
  const url = table.dataset.progressUrl;
  const settled = new Set((table.dataset.settled || "").split(","));
  const INTERVAL_MS = 1500;

  function rows() {
    return Array.from(table.querySelectorAll("tr[data-campaign-id]"));
  }

  function set(row, field, text) {
    const el = row.querySelector('[data-field="' + field + '"]');
    if (el) el.textContent = text;
    return el;
  }

  function update(row, p) {
    const badge = set(row, "status", p.status);
    if (badge) badge.className = "df-badge df-badge-" + p.status;
    const bar = row.querySelector('[data-field="bar"]');
    if (bar) bar.value = p.percent;
    set(row, "percent", Number(p.percent).toFixed(1));
    set(row, "processed", String(p.processed_items));
    set(row, "total", String(p.total_items));
    set(row, "rate", p.rate_per_s === null ? "—" : p.rate_per_s + "/s");
    set(row, "eta", p.eta_s === null ? "—" : Math.round(p.eta_s) + " s");
    row.dataset.status = p.status;
  }

  async function poll() {
    const pending = rows().filter((row) => !settled.has(row.dataset.status || ""));
    if (pending.length === 0) return; // everything shown has finished moving
    const query = new URLSearchParams({ ids: pending.map((row) => row.dataset.campaignId).join(",") });
    try {
      const response = await fetch(url + "?" + query.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        const byId = new Map(data.campaigns.map((p) => [p.id, p]));
        for (const row of pending) {
          const p = byId.get(row.dataset.campaignId);
          if (p) update(row, p);
        }
      }
    } catch (err) {
      // A network blip: try again on the next tick.
    }
    window.setTimeout(poll, INTERVAL_MS);
  }

  for (const row of rows()) {
    const badge = row.querySelector('[data-field="status"]');
    row.dataset.status = badge ? badge.textContent.trim() : "";
  }
  poll();
})();
