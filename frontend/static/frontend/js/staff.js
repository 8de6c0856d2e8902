/* Staff job list: "select all" and the selection counter, as the admin's changelist has. */
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var toggle = document.getElementById("action-toggle");
  var boxes = Array.from(document.querySelectorAll("input.action-select"));
  var counter = document.getElementById("action-counter");
  if (!toggle || !counter) return;

  function update() {
    var selected = boxes.filter(function (b) { return b.checked; });
    boxes.forEach(function (b) { b.closest("tr").classList.toggle("selected", b.checked); });
    counter.textContent = selected.length + " of " + boxes.length + " selected";
    toggle.checked = boxes.length > 0 && selected.length === boxes.length;
  }

  toggle.addEventListener("change", function () {
    boxes.forEach(function (b) { b.checked = toggle.checked; });
    update();
  });
  boxes.forEach(function (b) { b.addEventListener("change", update); });
  update();
});
