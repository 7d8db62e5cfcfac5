// A ticket's running clocks count down live: each `.countdown` shows the time to its
// `data-deadline` (or past it), in the reader's words from `data-left` / `data-overdue`.
(function () {
  "use strict";
  function span(seconds) {
    var s = Math.floor(Math.abs(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var mm = (m < 10 ? "0" : "") + m, ss = (r < 10 ? "0" : "") + r;
    return (h > 0 ? h + ":" + mm : m) + ":" + ss;
  }
  function tick() {
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var left = (Date.parse(el.dataset.deadline) - Date.now()) / 1000;
      var words = left >= 0 ? el.dataset.left : el.dataset.overdue;
      el.textContent = "(" + words.replace("{}", span(left)) + ")";
      el.classList.toggle("late", left < 0);
    });
  }
  tick();
  setInterval(tick, 1000);
})();

// The reply form's script picker: a `.insert-script` button puts its rendered `data-text` (the
// customer's name and order number filled in by the server) into the reply, at the caret.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".insert-script");
    var box = document.querySelector("#reply-form textarea[name=body]");
    if (!button || !box) return;
    var text = button.dataset.text, at = box.selectionStart, end = box.selectionEnd;
    box.value = box.value.slice(0, at) + text + box.value.slice(end);
    box.focus();
    box.selectionStart = box.selectionEnd = at + text.length;
  });
})();
