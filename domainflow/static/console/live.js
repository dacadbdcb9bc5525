// Live pages: polls the page's live URL and morphs the server-rendered fragment into place.
// The server renders the same templates as a reload would (escaped there), so nothing here builds HTML
// from data. Morphing (not replacing) keeps focus, expanded rows and live regions in place.
(function () {
  "use strict";
  const host = document.querySelector("[data-live-url]");
  if (!host) return;
  const url = host.dataset.liveUrl;
  const FAST_MS = 1500;
  const SETTLED_MS = 10000; // a finished page still notices new campaigns and phases, slowly
  const expanded = new Set();

  function keyOf(node) {
    return node.nodeType === Node.ELEMENT_NODE ? node.getAttribute("data-key") : null;
  }

  function syncAttributes(cur, next) {
    const keep = (cur.getAttribute("data-keep") || "").split(" ").filter(Boolean);
    for (const a of Array.from(next.attributes)) {
      if (!keep.includes(a.name) && cur.getAttribute(a.name) !== a.value) cur.setAttribute(a.name, a.value);
    }
    for (const a of Array.from(cur.attributes)) {
      if (!keep.includes(a.name) && !next.hasAttribute(a.name)) cur.removeAttribute(a.name);
    }
  }

  function morph(cur, next) {
    if (cur.nodeType !== next.nodeType || cur.nodeName !== next.nodeName || keyOf(cur) !== keyOf(next)) {
      cur.replaceWith(document.importNode(next, true));
      return;
    }
    if (cur.nodeType === Node.TEXT_NODE || cur.nodeType === Node.COMMENT_NODE) {
      if (cur.nodeValue !== next.nodeValue) cur.nodeValue = next.nodeValue;
      return;
    }
    if (cur.nodeType !== Node.ELEMENT_NODE) return;
    syncAttributes(cur, next);
    morphChildren(cur, next);
  }

  function morphChildren(cur, next) {
    const keyed = new Map();
    for (const child of Array.from(cur.childNodes)) {
      const key = keyOf(child);
      if (key) keyed.set(key, child);
    }
    let position = 0;
    for (const wanted of Array.from(next.childNodes)) {
      const key = keyOf(wanted);
      let existing = key ? keyed.get(key) : cur.childNodes[position];
      if (key && existing) keyed.delete(key);
      if (existing && !key && keyOf(existing)) existing = null; // never morph a keyed node into an unkeyed one
      const here = cur.childNodes[position] || null;
      if (existing) {
        if (existing !== here) cur.insertBefore(existing, here);
        morph(existing, wanted);
      } else {
        cur.insertBefore(document.importNode(wanted, true), here);
      }
      position += 1;
    }
    while (cur.childNodes.length > position) cur.removeChild(cur.lastChild);
  }

  function applyExpanded() {
    for (const button of host.querySelectorAll("button.df-toggle")) {
      const id = button.id.replace("toggle-", "");
      const open = expanded.has(id);
      button.setAttribute("aria-expanded", open ? "true" : "false");
      for (const row of host.querySelectorAll('tr[data-phase-of="' + id + '"]')) row.hidden = !open;
    }
  }

  host.addEventListener("click", function (event) {
    const button = event.target.closest("button.df-toggle");
    if (!button) return;
    const id = button.id.replace("toggle-", "");
    if (expanded.has(id)) expanded.delete(id);
    else expanded.add(id);
    applyExpanded();
  });

  // The dashboard's rows are not live regions (a table announcing every tick is noise):
  // a pipeline whose state changes is announced once, in one polite region.
  const announcer = document.getElementById("live-announcer");

  function states() {
    const found = new Map();
    for (const row of host.querySelectorAll("tr.df-pipeline")) {
      const name = row.querySelector("th a");
      const state = row.querySelector('[data-field="state"]');
      if (name && state) found.set(row.dataset.pipelineId, [name.textContent, state.textContent]);
    }
    return found;
  }

  function announce(before) {
    if (!announcer) return;
    const changed = [];
    for (const [id, [name, state]] of states()) {
      const old = before.get(id);
      if (!old) changed.push(name + ": new, " + state);
      else if (old[1] !== state) changed.push(name + ": " + state);
    }
    if (changed.length) announcer.textContent = changed.join(". ");
  }

  async function poll() {
    let delay = FAST_MS;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        const html = data.html.trim();
        const before = states();
        const doc = new DOMParser().parseFromString(html.startsWith("<tbody") ? "<table>" + html + "</table>" : html, "text/html");
        for (const fresh of doc.querySelectorAll("[data-live-section]")) {
          const current = document.getElementById(fresh.id);
          if (current) morph(current, fresh);
        }
        applyExpanded();
        announce(before);
        host.dataset.settled = data.settled ? "1" : "0";
        if (data.settled) delay = SETTLED_MS;
      }
    } catch (err) {
      // A network blip: try again on the next tick.
    }
    window.setTimeout(poll, delay);
  }
  window.setTimeout(poll, FAST_MS);
})();
