// Buttons with data-confirm ask first, in a dialog; the form says it was confirmed (the server asks again otherwise).
(function () {
  "use strict";
  const dialog = document.getElementById("confirm-dialog");
  if (!dialog) return;
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", function (event) {
      const form = button.form;
      if (form.elements.confirmed.value === "yes") return;
      event.preventDefault();
      document.getElementById("confirm-text").textContent = button.dataset.confirm;
      dialog.returnValue = "";
      dialog.showModal();
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        if (dialog.returnValue !== "confirm") { button.focus(); return; }
        form.elements.confirmed.value = "yes";
        const chosen = document.createElement("input");
        chosen.type = "hidden"; chosen.name = button.name; chosen.value = button.value;
        form.appendChild(chosen);
        form.submit();
      });
    });
  }
})();
