// Small behaviours shared by every page (no build step, no dependencies).
//  - <form data-confirm="Really cancel?">: asks before submitting.
//  - <button data-copy="#element-id">: copies that element's text (e.g. a new API token).
//  - <select data-autosubmit>: sends its form when the choice changes (a filter).
//  - <button data-print>: opens the browser's print dialog (the roll-call sheet).
//  - <div class="progress-bar" data-pct="40">: drawn at that width (no inline styles: the CSP
//    allows none).
//  - A submitted form's buttons are disabled so a double click sends it once;
//    <form data-allow-resubmit> opts out (e.g. a form that downloads a file).
(function () {
  "use strict";

  // The sentences scripts write, in the page's language: <body data-texts> (portal.i18n), read
  // once here for every script of the page (this one loads first).
  try {
    window.gatehouseTexts = JSON.parse(document.body.getAttribute("data-texts") || "{}");
  } catch (error) {
    window.gatehouseTexts = {};
  }

  // A form whose answer does not replace the page (a download) gets its buttons back.
  var REENABLE_MS = 10000;

  function submitButtons(form) {
    return form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]");
  }

  function setDisabled(buttons, disabled) {
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = disabled;
    }
  }

  function disableUntilLeaving(form) {
    if (form.hasAttribute("data-allow-resubmit")) {
      return;
    }
    var buttons = submitButtons(form);
    // After this event: a button disabled now would drop its own name/value from the form.
    window.setTimeout(function () { setDisabled(buttons, true); }, 0);
    window.setTimeout(function () { setDisabled(buttons, false); }, REENABLE_MS);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (!event.defaultPrevented && form.querySelectorAll) {
      disableUntilLeaving(form);
    }
  });

  // Back to a page kept in the browser's cache: its forms work again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    var forms = document.querySelectorAll("form:not([data-allow-resubmit])");
    for (var i = 0; i < forms.length; i++) {
      setDisabled(submitButtons(forms[i]), false);
    }
  });

  function tell(button, text) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = text;
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  // The page's sentences in its language (portal.i18n.script_texts, on <body data-texts>).
  function text(key, fallback) {
    return (window.gatehouseTexts && window.gatehouseTexts[key]) || fallback;
  }

  // Without HTTPS there is no navigator.clipboard: select the text and use the older command,
  // or leave it selected so that Ctrl-C (or a long press) copies it.
  function copyBySelection(source, button) {
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false; // old browsers throw instead of returning false
    }
    tell(button, copied ? text("copied", "Copied") : text("selected", "Selected: press Ctrl-C"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) {
      return;
    }
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    if (!navigator.clipboard || !window.isSecureContext) {
      copyBySelection(source, button);
      return;
    }
    navigator.clipboard.writeText(source.textContent.trim()).then(
      function () { tell(button, text("copied", "Copied")); },
      function () { copyBySelection(source, button); }
    );
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) {
      window.print();
    }
  });

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.hasAttribute && select.hasAttribute("data-autosubmit") && select.form) {
      select.form.submit();
    }
  });

  function drawProgressBars() {
    var bars = document.querySelectorAll(".progress-bar[data-pct]");
    for (var i = 0; i < bars.length; i++) {
      bars[i].style.width = bars[i].getAttribute("data-pct") + "%";
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawProgressBars);
  } else {
    drawProgressBars();
  }
})();
