// The claim page (/g/<token>): progressive touches only; the page works without this script.
// - The envelope (a <details>) opens with its flap lifting before the card shows; without the
//   script, or when the visitor asks for less motion, it opens at once.
// - One tap sends a form once: its button waits for the page the form leads to.
(function () {
  "use strict";
  const envelope = document.querySelector("details[data-gift-envelope]");
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const OPENING_MS = 700;

  if (envelope && !still) {
    const summary = envelope.querySelector("summary");
    summary.addEventListener("click", (event) => {
      if (envelope.open) return;
      event.preventDefault();
      if (envelope.classList.contains("is-opening")) return;
      envelope.classList.add("is-opening");
      setTimeout(() => {
        envelope.open = true;
        envelope.classList.remove("is-opening");
        const title = envelope.querySelector(".gift-card");
        if (title) title.focus({ preventScroll: false });
      }, OPENING_MS);
    });
  }

  for (const form of document.querySelectorAll("form[data-once]")) {
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      if (button) setTimeout(() => { button.disabled = true; }, 0);
    });
  }
})();
