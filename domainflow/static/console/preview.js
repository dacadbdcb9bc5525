// The generation add form: as the operator types, how many names the settings can produce,
// how charset, constant and TLDs will be read, and each field's problem (text only).
(function () {
  "use strict";
  const box = document.getElementById("generation-preview");
  if (!box) return;
  const form = box.closest("form");
  const FIELDS = ["pattern", "prefix_length", "suffix_length", "charset", "constant", "tlds", "count"];
  let timer = null;

  async function refresh() {
    const query = new URLSearchParams();
    for (const name of FIELDS) {
      const input = form.elements[name];
      if (input) query.set(name, input.value);
    }
    try {
      const response = await fetch(box.dataset.previewUrl + "?" + query.toString(), { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      const problems = Object.entries(data.errors).map(([name, message]) => name.replace("_", " ") + ": " + message);
      box.textContent = problems.length ? "Not yet valid — " + problems.join("; ") : data.summary;
      for (const name of FIELDS) {
        const note = document.getElementById("note-" + name);
        if (note) note.textContent = data.notes[name] ? "Will be " + data.notes[name] + "." : "";
      }
    } catch (err) {
      // Offline for a moment: the form still validates on submit.
    }
  }

  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  });
  refresh();
})();
