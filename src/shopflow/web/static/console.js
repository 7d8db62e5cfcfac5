// Shopflow console: draws ECharts charts from their server-made options, also after HTMX swaps,
// shows why an HTMX request was refused, opens the menu on narrow screens, and puts the address of
// the form's page back in the address bar when a refused form is shown again (post/redirect/get).
(function () {
  if (document.body.dataset.address) {
    history.replaceState(null, "", document.body.dataset.address);
  }
  var menu = document.getElementById("menu");
  menu.addEventListener("click", function () {
    var open = document.querySelector("header.top").classList.toggle("open");
    menu.setAttribute("aria-expanded", open ? "true" : "false");
  });
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
