// warroom: live updates over server-sent events and ticking clocks. No inline script anywhere.
(function () {
  "use strict";

  function span(seconds) {
    seconds = Math.floor(Math.abs(seconds));
    if (seconds < 60) return seconds + "s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + "m";
    var hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    if (hours < 48) return hours + "h " + (minutes < 10 ? "0" : "") + minutes + "m";
    return Math.floor(hours / 24) + "d " + (hours % 24) + "h";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-clock]").forEach(function (el) {
      var delta = (now - Date.parse(el.getAttribute("datetime"))) / 1000;
      if (el.dataset.clock === "since") {
        el.textContent = span(delta) + " ago";
      } else {
        el.textContent = delta > 0 ? "overdue by " + span(delta) : "in " + span(delta);
        el.classList.toggle("overdue", delta > 0);
      }
    });
  }

  // An update is HTML: elements with an id replace the element with that id (unless their
  // data-key is unchanged, so a form being filled in is not wiped); an element with
  // data-append-to appends its children to that list, skipping ids already present.
  function apply(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    Array.prototype.slice.call(tpl.content.children).forEach(function (node) {
      var listId = node.getAttribute("data-append-to");
      if (listId) {
        var list = document.getElementById(listId);
        if (!list) return;
        Array.prototype.slice.call(node.children).forEach(function (child) {
          if (!child.id || !document.getElementById(child.id)) list.appendChild(child);
        });
        return;
      }
      var old = node.id && document.getElementById(node.id);
      if (!old) return;
      if (node.dataset.key && old.dataset.key === node.dataset.key) return;
      old.replaceWith(node);
      if (window.htmx) window.htmx.process(node);
    });
    tick();
  }

  function connect(el) {
    if (el._source) el._source.close();
    var url = el.getAttribute("data-live");
    if (el.hasAttribute("data-live-query")) url += window.location.search;
    var source = new EventSource(url);
    el._source = source;
    source.addEventListener("update", function (event) { apply(event.data); });
    document.documentElement.dataset.live = "connected";
    source.addEventListener("open", function () { document.documentElement.dataset.live = "open"; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(connect);
    tick();
    window.setInterval(tick, 10000);
  });
  // A filter changed the URL (htmx hx-push-url): follow it with the live stream.
  document.addEventListener("htmx:pushedIntoHistory", function () {
    document.querySelectorAll("[data-live][data-live-query]").forEach(connect);
  });
})();
