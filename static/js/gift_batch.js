// A bulk gift file's progress page: the bar and the figures follow the job without a reload. The
// page works without this script (its "Refresh" link reloads it).
(function () {
  "use strict";
  const root = document.getElementById("gift-batch");
  if (!root) return;
  const locale = document.documentElement.lang || "vi";
  const bar = document.getElementById("gift-batch-progress");
  const show = (id, value) => { document.getElementById(id).textContent = Number(value).toLocaleString(locale); };

  async function poll() {
    try {
      const response = await fetch(root.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const batch = await response.json();
        bar.max = Math.max(batch.total, 1);
        bar.value = batch.done;
        bar.textContent = batch.done + " / " + batch.total;
        show("gift-batch-done", batch.done);
        show("gift-batch-sent", batch.sent);
        show("gift-batch-skipped", batch.skipped);
        show("gift-batch-bad", batch.bad);
        const pill = root.querySelector("[data-testid=batch-status]");
        if (pill && pill.dataset.status !== batch.status) {
          pill.dataset.status = batch.status;
          pill.className = "pill pill-" + batch.status;
          pill.textContent = root.dataset["word" + batch.status.charAt(0).toUpperCase() + batch.status.slice(1)] || batch.status;
        }
        const error = document.getElementById("gift-batch-error");
        if (batch.error) { error.textContent = batch.error; error.hidden = false; }
        if (batch.status === "done" || batch.status === "failed") {
          document.getElementById("gift-batch-refresh").hidden = true;
          document.getElementById("gift-batch-csv").hidden = batch.status !== "done";
          return;
        }
      }
    } catch (error) { /* the next tick tries again */ }
    setTimeout(poll, 1000);
  }
  poll();
})();
