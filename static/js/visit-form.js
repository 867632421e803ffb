// Visit pages: confirm destructive buttons, and follow the latest job until it ends.
(function () {
  "use strict";

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });

  var box = document.querySelector("[data-poll-url]");
  if (!box) {
    return;
  }
  var url = box.dataset.pollUrl;
  var stateEl = box.querySelector("[data-job-state]");
  var progressEl = box.querySelector("[data-job-progress]");
  var INTERVAL_MS = 2000;
  var MAX_POLLS = 300; // ten minutes, then the page stops asking
  var polls = 0;

  function show(job) {
    var labels = {queued: "Queued", started: "Running", finished: "Finished", failed: "Failed"};
    stateEl.textContent = labels[job.state] || job.state;
    var progress = job.progress || {};
    if (progress.total) {
      progressEl.textContent = progress.done + " of " + progress.total;
    }
  }

  function poll() {
    polls += 1;
    fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        show(job);
        if (job.state === "finished" || job.state === "failed") {
          window.location.reload(); // the visit's state and delivery changed with the job
          return;
        }
        if (polls < MAX_POLLS) { window.setTimeout(poll, INTERVAL_MS); }
      })
      .catch(function () {
        if (polls < MAX_POLLS) { window.setTimeout(poll, INTERVAL_MS * 2); }
      });
  }

  window.setTimeout(poll, INTERVAL_MS);
})();
