// Shopflow console: draws ECharts charts from their server-made options, also after HTMX swaps,
// and shows why an HTMX request was refused.
(function () {
  function drawCharts(root) {
    if (!window.echarts) { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = echarts.getInstanceByDom(el) || echarts.init(el);
      chart.setOption(JSON.parse(el.dataset.chart), true);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = echarts.getInstanceByDom(el);
      if (chart) { chart.resize(); }
    });
  });
  document.addEventListener("htmx:responseError", function (event) {
    var box = document.getElementById("toast");
    var page = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html");
    var reason = page.querySelector(".refusal");
    box.textContent = reason ? reason.textContent : event.detail.xhr.statusText;
    box.hidden = false;
  });
})();
