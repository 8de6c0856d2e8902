/* The home page's "My workflows": the newest ten (live while any runs), and a form that submits one as JSON. */
"use strict";

(function () {
  var B = window.BatchLab, el = B.el;
  var card = document.getElementById("workflows");
  if (!card) return;
  var rows = document.getElementById("workflow-rows");
  var empty = document.getElementById("workflows-empty");
  var errorBox = document.getElementById("workflows-error");
  var live = document.getElementById("workflows-live");
  var form = document.getElementById("workflow-form");
  var input = document.getElementById("workflow-json");
  var formErrors = document.getElementById("workflow-form-errors");
  var status = document.getElementById("workflow-submit-status");

  var poller = B.Poller(refresh, Object.assign(B.pollOptions(card), {
    onChange: function (running) { live.textContent = running ? "Live" : ""; },
  }));

  function row(w) {
    return el("tr", { "data-workflow-id": w.id, "data-status": w.status }, [
      el("th", { scope: "row" }, [el("a", { href: "/ui/workflows/" + w.id, className: "jobcell__name", text: w.name })]),
      el("td", { "data-label": "Status" }, [B.badge(w)]),
      el("td", { "data-label": "Steps", className: "num", text: String(w.steps_total) }),
      el("td", { "data-label": "Created" }, [B.time(w.created_at)]),
      el("td", { "data-label": "Finished" }, [B.time(w.finished_at)]),
    ]);
  }

  function refresh() {
    return B.api("GET", "/workflows?limit=10").then(function (response) {
      if (!response.ok) {
        errorBox.textContent = B.describeProblem(response);
        errorBox.hidden = false;
        return response.status >= 500;
      }
      errorBox.hidden = true;
      var list = response.body.results;
      rows.replaceChildren.apply(rows, list.map(row));
      empty.hidden = list.length > 0;
      return list.some(function (w) { return !B.isFinal(w.status); });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    formErrors.hidden = true;
    var body;
    try { body = JSON.parse(input.value); } catch (e) {
      formErrors.replaceChildren(el("span", { className: "field-error__line", text: "Not JSON: " + e.message }));
      formErrors.hidden = false;
      return;
    }
    status.textContent = "Submitting…";
    B.api("POST", "/workflows", body).then(function (response) {
      status.textContent = "";
      if (!response.ok) {
        var errors = (response.body || {}).errors || {};
        var lines = Object.keys(errors).map(function (k) { return k + ": " + [].concat(errors[k]).join(" "); });
        if (!lines.length) lines = [B.describeProblem(response)];
        formErrors.replaceChildren.apply(formErrors, lines.map(function (l) { return el("span", { className: "field-error__line", text: l }); }));
        formErrors.hidden = false;
        return;
      }
      status.replaceChildren("Submitted: ", el("a", { href: "/ui/workflows/" + response.body.id, text: response.body.name }));
      refresh();
      poller.start();
    }, function () { status.textContent = "The server could not be reached. Try again."; });
  });

  refresh().then(function (more) { if (more) poller.start(); });
})();
