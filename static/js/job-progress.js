// Follows a running job: polls its JSON twin every 1.5 s and moves the progress bar; when the job
// ends, reloads the page once so the outcome (items, error, retry button) is rendered server-side.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var url = box.getAttribute("data-json-url");
  var DONE = { finished: true, failed: true };
  // The same words as the server-rendered badges, in the page's language (see app.js).
  var TEXTS = window.gatehouseTexts || {};
  var LABELS = TEXTS.states || { queued: "Queued", started: "Running", finished: "Finished", failed: "Failed" };
  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) { return String(values[name]); });
  }
  var INTERVAL_MS = 1500;
  var MAX_POLLS = 2400; // about an hour; a job page left open does not poll forever
  var polls = 0;
  if (DONE[box.getAttribute("data-state")]) { return; }

  function render(job) {
    var p = job.progress || {};
    var total = p.total || 0;
    var done = p.done || 0;
    var bar = box.querySelector("[data-job-progress] .progress-bar");
    var label = box.querySelector("[data-job-progress] .progress-label");
    var meter = box.querySelector("[data-job-progress] .progress");
    var holder = box.querySelector("[data-job-progress]");
    if (holder && total) { holder.hidden = false; }
    if (bar) { bar.style.width = (total ? Math.floor(done * 100 / total) : 0) + "%"; }
    if (meter) { meter.setAttribute("aria-valuenow", done); meter.setAttribute("aria-valuemax", total); }
    if (label) {
      label.textContent = fill(TEXTS.progress || "%(done)s of %(total)s", { done: done, total: total }) +
        (p.failed ? " · " + fill(TEXTS.progressFailed || "%(num)s failed", { num: p.failed }) : "");
    }
    var state = box.querySelector("[data-job-state] .badge");
    if (state) {
      state.textContent = LABELS[job.state] || job.state;
      state.className = "badge badge-" + job.state;
    }
  }

  function poll() {
    polls += 1;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (job) {
        render(job);
        if (DONE[job.state]) { window.location.reload(); return; }
        if (polls < MAX_POLLS) { window.setTimeout(poll, INTERVAL_MS); }
      })
      .catch(function () {
        // A network hiccup: try again a little later rather than stop following.
        if (polls < MAX_POLLS) { window.setTimeout(poll, INTERVAL_MS * 2); }
      });
  }
  window.setTimeout(poll, INTERVAL_MS);
})();
