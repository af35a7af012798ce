// The dashboard's progressive parts: the campaign builder's live odds and cost preview, the live
// figures and charts of a campaign (refreshed without a reload), and a bulk issue's progress bar.
// Every number shown comes from the server's figures; the preview only does arithmetic on the form.
(function () {
  "use strict";

  // Numbers, money, percentages and dates in the page's language (<html lang>), as the server
  // writes them with Babel: 10,0% and 1.234 in Vietnamese, 10.0% and 1,234 in English.
  const locale = document.documentElement.lang || "vi";

  function money(amount, currency) {
    if (amount === null || amount === undefined) return "—";
    const digits = ["VND", "JPY", "KRW"].includes(currency) ? 0 : 2;
    return new Intl.NumberFormat(locale, { style: "currency", currency, minimumFractionDigits: digits, maximumFractionDigits: digits })
      .format(digits ? amount / 100 : amount);
  }

  function count(value) {
    return value === null || value === undefined ? "—" : new Intl.NumberFormat(locale).format(value);
  }

  function percent(share, digits) {
    return new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(share);
  }

  // The server's series labels are local "YYYY-MM-DD HH:00" or "YYYY-MM-DD": shown as the locale writes them.
  function when(label) {
    const [day, hour] = String(label).split(" ");
    const [y, m, d] = day.split("-").map(Number);
    if (!d) return label;
    const options = hour ? { day: "numeric", month: "numeric", hour: "2-digit", minute: "2-digit" } : { day: "numeric", month: "numeric", year: "numeric" };
    return new Intl.DateTimeFormat(locale, options).format(new Date(y, m - 1, d, hour ? Number(hour.slice(0, 2)) : 0));
  }

  function number(input) {
    const raw = (input && input.value || "").replace(/[.,\s]/g, "");
    return raw === "" ? null : Number(raw);
  }

  // --- the campaign builder -------------------------------------------------------------------
  const builder = document.getElementById("builder");
  if (builder) {
    const text = JSON.parse(document.getElementById("i18n").textContent);
    const { currency } = builder.dataset;
    const body = document.querySelector("#prizes tbody");

    function preview() {
      const rows = Array.from(body.querySelectorAll("tr.prize-row")).map((row) => ({
        row,
        label: row.querySelector("[name=prize_label]").value.trim(),
        weight: number(row.querySelector("[name=prize_weight]")) || 0,
        stock: number(row.querySelector("[name=prize_stock]")),
        value: number(row.querySelector("[name=prize_value]")) || 0,
      })).filter((p) => p.label || p.weight);
      const total = rows.reduce((sum, p) => sum + p.weight, 0);
      body.querySelectorAll(".odds").forEach((cell) => { cell.textContent = "—"; });
      for (const p of rows) {
        p.row.querySelector(".odds").textContent = total ? percent(p.weight / total, 2) : "—";
      }
      const perThousand = total ? Math.round(1000 * rows.reduce((s, p) => s + p.weight * p.value, 0) / total) : 0;
      document.getElementById("cost-per-1000").textContent = money(perThousand, currency);
      const valued = rows.filter((p) => p.value);
      const unlimited = valued.some((p) => p.stock === null);
      const full = valued.reduce((s, p) => s + (p.stock || 0) * p.value, 0);
      document.getElementById("cost-full").textContent = unlimited ? "∞" : money(full, currency);
      const budget = number(document.getElementById("budget"));
      const check = document.getElementById("budget-check");
      if (budget === null) check.textContent = "";
      else if (unlimited) check.textContent = "(" + text.unlimited + ")";
      else check.textContent = "(" + (full > budget ? text.over : text.within) + ")";
      check.className = budget !== null && (unlimited || full > budget) ? "pill pill-warn" : "pill";
    }

    // Choosing a voucher fills in its value (what a win costs the budget), unless already typed.
    body.addEventListener("change", (event) => {
      if (event.target.name === "prize_offer_id") {
        const value = event.target.selectedOptions[0].dataset.value;
        const field = event.target.closest("tr").querySelector("[name=prize_value]");
        if (value && !field.value) field.value = value;
      }
      preview();
    });
    builder.addEventListener("input", preview);
    document.getElementById("add-prize").addEventListener("click", () => {
      const copy = body.querySelector("tr.prize-row").cloneNode(true);
      copy.querySelectorAll("input").forEach((input) => { input.value = ""; });
      copy.querySelector("select").selectedIndex = 0;
      body.append(copy);
      preview();
    });
    preview();
  }

  // --- live figures and charts ----------------------------------------------------------------
  const figuresPanel = document.getElementById("figures");
  if (figuresPanel && window.Chart) {
    const labels = JSON.parse(document.getElementById("chart-labels").textContent);
    const { currency } = figuresPanel.dataset;
    const red = "#c8102e", gold = "#f4c542", green = "#1f8a4c", grey = "#9a9aa0";
    const charts = {};

    function make(id, config) {
      charts[id] = new window.Chart(document.getElementById(id), { ...config, options: { animation: false, responsive: true, maintainAspectRatio: false, locale, ...(config.options || {}) } });
    }

    function draw(figures) {
      const s = figures.series, st = figures.stats, f = figures.funnel;
      const data = {
        "chart-time": { labels: s.labels, datasets: [
          { label: labels.plays, data: s.plays, borderColor: red, backgroundColor: red },
          { label: labels.wins, data: s.wins, borderColor: gold, backgroundColor: gold },
          { label: labels.redemptions, data: s.redemptions, borderColor: green, backgroundColor: green }] },
        "chart-prizes": { labels: st.prizes.map((p) => p.label), datasets: [
          { label: labels.won, data: st.prizes.map((p) => p.won), backgroundColor: red },
          { label: labels.left, data: st.prizes.map((p) => p.stock_left), backgroundColor: grey }] },
        "chart-funnel": { labels: [labels.events, labels.plays, labels.wins, labels.redeemed], datasets: [
          { label: "", data: [f.events, f.plays, f.wins, f.redeemed], backgroundColor: [grey, red, gold, green] }] },
        "chart-budget": { labels: [labels.spent, labels.liability, labels.remaining], datasets: [
          { data: [st.budget_spent, st.liability, st.budget === null ? 0 : Math.max(st.budget - st.budget_spent, 0)],
            backgroundColor: [red, gold, "#e8e8ea"] }] },
      };
      if (!charts["chart-time"]) {
        const counts = { y: { beginAtZero: true, ticks: { precision: 0 } } };  // whole plays, not 2,5
        make("chart-time", { type: "line", data: data["chart-time"], options: { scales: { ...counts, x: { ticks: { callback(value) { return when(this.getLabelForValue(value)); } } } } } });
        make("chart-prizes", { type: "bar", data: data["chart-prizes"], options: { scales: counts } });
        make("chart-funnel", { type: "bar", data: data["chart-funnel"], options: { scales: counts, plugins: { legend: { display: false } } } });
        make("chart-budget", { type: "doughnut", data: data["chart-budget"] });
      } else {
        for (const [id, fresh] of Object.entries(data)) {
          charts[id].data.labels = fresh.labels;
          fresh.datasets.forEach((set, i) => { charts[id].data.datasets[i].data = set.data; });
          charts[id].update();
        }
      }
      figuresPanel.querySelectorAll("[data-figure]").forEach((cell) => {
        const [group, key] = cell.dataset.figure.split(".");
        const value = figures[group][key];
        cell.textContent = value === null || value === undefined ? "—" : ("money" in cell.dataset ? money(value, currency) : count(value));
      });
      figuresPanel.dataset.plays = String(st.plays);
      document.getElementById("refreshed").textContent = new Date().toLocaleTimeString(locale);
    }

    draw(JSON.parse(document.getElementById("figures-data").textContent));
    setInterval(async () => {
      if (document.hidden) return;
      try {
        const response = await fetch(figuresPanel.dataset.url, { credentials: "same-origin" });
        if (response.ok) draw(await response.json());
      } catch (error) { /* the next tick tries again */ }
    }, Number(figuresPanel.dataset.refreshMs || 5000));
  }

  // --- a bulk issue's progress ------------------------------------------------------------------
  const bulk = document.getElementById("bulk");
  if (bulk) {
    const bar = document.getElementById("bulk-progress");
    async function poll() {
      try {
        const response = await fetch(bulk.dataset.progressUrl, { credentials: "same-origin" });
        const job = await response.json();
        bar.value = job.issued;
        document.getElementById("bulk-issued").textContent = job.issued;
        document.getElementById("bulk-status").textContent = job.status;
        if (job.error) { const e = document.getElementById("bulk-error"); e.textContent = job.error; e.hidden = false; }
        if (job.status === "done") { document.getElementById("bulk-csv").hidden = false; return; }
        if (job.status === "failed") return;
      } catch (error) { /* try again */ }
      setTimeout(poll, 1000);
    }
    poll();
  }
})();

// --- loyalty: members against the goal, and the statement's print button --------------------
(function () {
  "use strict";
  const growth = document.getElementById("growth-data");
  if (growth && window.Chart) {
    const data = JSON.parse(growth.textContent);
    const red = "#c8102e", gold = "#b8860b";
    const datasets = [{ label: data.names.total, data: data.total, borderColor: red, backgroundColor: red, spanGaps: false }];
    if (data.goal.some((value) => value !== null)) {
      datasets.push({ label: data.names.goal, data: data.goal, borderColor: gold, backgroundColor: gold, borderDash: [6, 4], pointRadius: 0 });
    }
    new window.Chart(document.getElementById("chart-growth"), {
      type: "line",
      data: { labels: data.labels, datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false, locale: document.documentElement.lang || "vi",
                 scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  });
})();
