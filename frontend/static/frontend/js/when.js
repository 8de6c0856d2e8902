/* Times on the schedule pages: local time, and "in 3 min" / "2 min ago" for the next run (text changed only when it differs). */
"use strict";

(function () {
  function relative(seconds) {
    var abs = Math.abs(seconds), unit = "s", value = abs;
    if (abs >= 86400) { value = Math.round(abs / 86400); unit = " d"; }
    else if (abs >= 3600) { value = Math.round(abs / 3600); unit = " h"; }
    else if (abs >= 60) { value = Math.round(abs / 60); unit = " min"; }
    else { value = Math.round(abs); unit = " s"; }
    return seconds >= 0 ? "in " + value + unit : value + unit + " ago";
  }

  function local(node) {
    var at = new Date(node.getAttribute("datetime"));
    if (isNaN(at)) return null;
    if (node.title !== node.getAttribute("datetime")) node.title = node.getAttribute("datetime");
    return at;
  }

  /* Only a text that differs is written: a selection in a time that did not change survives. */
  function show(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function update() {
    document.querySelectorAll("time.js-local").forEach(function (node) {
      var at = local(node);
      if (at) show(node, at.toLocaleString());
    });
    document.querySelectorAll("time.js-when").forEach(function (node) {
      var at = local(node);
      if (at) show(node, at.toLocaleString() + " (" + relative((at - Date.now()) / 1000) + ")");
    });
  }

  update();
  setInterval(update, 1000);
})();
