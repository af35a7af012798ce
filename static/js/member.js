// The member's page (/me): progressive touches only; everything works without this script.
// - "Exchange" opens its confirm step in a <dialog> instead of going to the confirm page.
// - The invitation link gets a Copy button and a share button (the phone's share sheet, where
//   Zalo is one of the choices; where there is none, the link is copied to paste into Zalo).
(function () {
  "use strict";
  const text = JSON.parse((document.getElementById("member-i18n") || { textContent: "{}" }).textContent);
  const status = document.querySelector(".copy-status");

  function say(message) {
    if (status) status.textContent = message;
  }

  for (const link of document.querySelectorAll("a[data-dialog]")) {
    const dialog = document.getElementById(link.dataset.dialog);
    if (!dialog || typeof dialog.showModal !== "function") continue;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      dialog.showModal();
      const confirm = dialog.querySelector("button[type=submit]");
      if (confirm) confirm.focus();
    });
    for (const close of dialog.querySelectorAll("[data-close]")) {
      close.addEventListener("click", (event) => {
        event.preventDefault();
        dialog.close();
        link.focus();
      });
    }
    // One tap exchanges once: the button waits for the page the exchange leads to.
    const form = dialog.querySelector("form");
    if (form) {
      form.addEventListener("submit", () => {
        const button = form.querySelector("button[type=submit]");
        if (button) setTimeout(() => { button.disabled = true; }, 0);
      });
    }
  }

  async function copy(field) {
    try {
      await navigator.clipboard.writeText(field.value);
      return true;
    } catch (error) {
      field.focus();
      field.select();
      try { return document.execCommand("copy"); } catch (ignored) { return false; }
    }
  }

  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    if (!field) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      say((await copy(field)) ? text.copied : text.copyFailed);
    });
  }

  for (const button of document.querySelectorAll("button[data-share]")) {
    const field = document.getElementById(button.dataset.share);
    if (!field) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      if (navigator.share) {
        try {
          await navigator.share({ url: field.value, title: document.title });
          return;
        } catch (error) {
          if (error && error.name === "AbortError") return;  // the member closed the sheet
        }
      }
      say((await copy(field)) ? text.copied : text.copyFailed);
    });
  }
})();
