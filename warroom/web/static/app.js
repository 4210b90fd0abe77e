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
      if (el.dataset.clock === "progress") {
        el.textContent = Math.max(0, Math.floor(delta / 60)) + " of " +
          Math.round(Number(el.dataset.window || 0) / 60) + " min";
      } else if (el.dataset.clock === "since") {
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
          if (!child.id || !document.getElementById(child.id)) insertInOrder(list, child);
        });
        return;
      }
      var old = node.id && document.getElementById(node.id);
      if (!old) return;
      if (node.dataset.key && old.dataset.key === node.dataset.key) return;
      keepFolds(old, node);
      old.replaceWith(node);
      if (window.htmx) window.htmx.process(node);
    });
    tick();
  }

  // The timeline is in the order things happened: a backdated entry goes where it belongs.
  function insertInOrder(list, child) {
    var at = child.getAttribute("data-at") || "";
    var items = list.children;
    for (var i = items.length - 1; i >= 0; i--) {
      if ((items[i].getAttribute("data-at") || "") <= at) {
        items[i].after(child);
        return;
      }
    }
    list.prepend(child);
  }

  // A replaced panel keeps the open/folded state the reader gave it.
  function keepFolds(old, node) {
    var folds = node.matches("details[id]") ? [node] : [];
    folds = folds.concat(Array.prototype.slice.call(node.querySelectorAll("details[id]")));
    folds.forEach(function (fresh) {
      var before = old.id === fresh.id ? old : old.querySelector("#" + CSS.escape(fresh.id));
      if (before) fresh.open = before.open;
    });
  }

  // On a phone the side panels start folded so the timeline comes first.
  function foldForPhone() {
    if (!window.matchMedia("(max-width: 760px)").matches) return;
    document.querySelectorAll("details[data-fold]").forEach(function (el) { el.open = false; });
  }

  // A link to a folded panel (#verification) opens it.
  function openTarget() {
    var id = window.location.hash.slice(1);
    var el = id && document.getElementById(id);
    var fold = el && el.closest("details");
    if (fold) fold.open = true;
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
    foldForPhone();
    openTarget();
    window.addEventListener("hashchange", openTarget);
    document.querySelectorAll("[data-live]").forEach(connect);
    tick();
    window.setInterval(tick, 10000);
  });
  // A filter changed the URL (htmx hx-push-url): follow it with the live stream.
  document.addEventListener("htmx:pushedIntoHistory", function () {
    document.querySelectorAll("[data-live][data-live-query]").forEach(connect);
  });
})();
