// The dashboard's gifts page: the funnel (sent → opened → claimed → used) as a bar chart. The same
// figures are in the table beside it, so the page says everything without this script.
(function () {
  "use strict";
  const source = document.getElementById("gift-funnel-data");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const colours = ["#9a9aa0", "#f4c542", "#c8102e", "#1f8a4c"];
  new window.Chart(document.getElementById("chart-gift-funnel"), {
    type: "bar",
    data: {
      labels: data.labels.map((name) => data.names[name] || name),
      datasets: [{ label: "", data: data.counts, backgroundColor: colours }],
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      locale: document.documentElement.lang || "vi",
      plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
})();
