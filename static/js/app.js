// Small behaviours shared by every page (no build step, no dependencies).
//  - <form data-confirm="Really cancel?">: asks before submitting.
//  - <button data-copy="#element-id">: copies that element's text (e.g. a new API token).
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  function tell(button, text) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = text;
    window.setTimeout(function () { button.textContent = label; }, 2000);
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
    tell(button, copied ? "Copied" : "Selected: press Ctrl-C");
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
      function () { tell(button, "Copied"); },
      function () { copyBySelection(source, button); }
    );
  });
})();
