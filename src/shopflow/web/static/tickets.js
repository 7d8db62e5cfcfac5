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
