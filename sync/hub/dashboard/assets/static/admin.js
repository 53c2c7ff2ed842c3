// The dashboard's one script: it draws the charts from the numbers the page carries in data-*
// attributes (the Content-Security-Policy allows no inline script), with the embedded Chart.js.
'use strict';
(function () {
  if (typeof Chart === 'undefined') return;
  Chart.defaults.animation = false; // numbers to read, not to watch
  Chart.defaults.font.family = 'system-ui, "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
  const data = (el, name) => JSON.parse(el.dataset[name] || '[]');

  const hourly = document.getElementById('hourly');
  if (hourly) {
    new Chart(hourly, {
      type: 'bar',
      data: {
        labels: data(hourly, 'labels'),
        datasets: [{ label: hourly.dataset.label, data: data(hourly, 'values'), backgroundColor: '#2f6fb0' }],
      },
      options: {
        responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }

  // A kiosk's outbox depth over the last day, one point per kept report.
  const outbox = document.getElementById('outbox-chart');
  if (outbox) {
    new Chart(outbox, {
      type: 'line',
      data: {
        labels: data(outbox, 'labels'),
        datasets: [{ label: outbox.dataset.label, data: data(outbox, 'values'), borderColor: '#2f6fb0', backgroundColor: '#2f6fb0', stepped: true, pointRadius: 2 }],
      },
      options: {
        responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }

  const outcomes = document.getElementById('outcomes');
  if (outcomes) {
    new Chart(outcomes, {
      type: 'doughnut',
      data: {
        labels: data(outcomes, 'labels'),
        // PASS, DENY, MANUAL, RETRY: the kiosk screen's colours.
        datasets: [{ data: data(outcomes, 'values'), backgroundColor: ['#1e8e3e', '#c5221f', '#e37400', '#5f6368'] }],
      },
      options: { responsive: true, maintainAspectRatio: false },
    });
  }
})();
