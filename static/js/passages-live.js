// The passage log refreshes itself: every few seconds it asks for its rows again (same filters,
// ?fragment=rows) and swaps them in when they changed, keeping the reader's place on the page.
(function () {
  "use strict";
  var body = document.getElementById("passage-rows");
  if (!body || !body.getAttribute("data-refresh-url")) {
    return;
  }
  var url = body.getAttribute("data-refresh-url");
  var seconds = parseInt(body.getAttribute("data-refresh-seconds"), 10) || 3;
  var empty = document.getElementById("no-passages");
  var status = document.getElementById("live-status");
  var last = body.innerHTML.trim();

  function swap(html) {
    var text = html.trim();
    if (text === last) {
      return;
    }
    var table = body.closest("table");
    var tableTop = table ? table.getBoundingClientRect().top + window.scrollY : 0;
    var reading = window.scrollY > tableTop;
    var before = body.offsetHeight;
    body.innerHTML = text;
    last = text;
    if (empty) {
      empty.hidden = body.children.length > 0;
    }
    if (reading) {
      // Rows were added above what the reader looks at: move by as much, so nothing jumps.
      window.scrollBy(0, body.offsetHeight - before);
    }
  }

  function refresh() {
    if (document.hidden) {
      window.setTimeout(refresh, seconds * 1000);
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        swap(html);
        if (status) {
          var texts = window.gatehouseTexts || {};
          status.textContent = (texts.liveUpdated || "Live: updated %(time)s.")
            .replace("%(time)s", new Date().toLocaleTimeString(document.documentElement.lang || undefined));
        }
      })
      .catch(function () {
        if (status) {
          status.textContent = (window.gatehouseTexts || {}).livePaused ||
            "Live updates paused: the server did not answer; retrying.";
        }
      })
      .then(function () {
        window.setTimeout(refresh, seconds * 1000);
      });
  }

  window.setTimeout(refresh, seconds * 1000);
})();
