/* A workflow's page: its DAG coloured by status (live while steps can move), each step's row, Cancel / Retry, timeline. */
"use strict";

(function () {
  var B = window.BatchLab, D = window.BatchLabDag, el = B.el;
  var root = document.getElementById("app");
  var workflowId = root.dataset.workflowId;
  var workflow = JSON.parse(document.getElementById("workflow-data").textContent);
  var dag = document.getElementById("dag");
  var cancelButton = document.getElementById("cancel-button");
  var retryButton = document.getElementById("retry-button");
  var actionStatus = document.getElementById("action-status");
  var actionError = document.getElementById("action-error");
  var liveState = document.getElementById("live-state");

  var poller = B.Poller(refresh, Object.assign(B.pollOptions(root), {
    onChange: function (running) { liveState.textContent = running ? "Live" : ""; },
  }));

  function settled(wf) {
    return B.isFinal(wf.status) && wf.steps_done === wf.steps.length;
  }

  function field(label, value) {
    var content = typeof value === "string" ? document.createTextNode(value) : value;
    return el("div", {}, [el("dt", { text: label }), el("dd", { "data-field": label }, [content])]);
  }

  function render() {
    document.title = workflow.name + " · BatchLab";
    document.getElementById("workflow-status").replaceChildren(B.badge(workflow));
    document.getElementById("workflow-progress").replaceChildren(B.progressBar({
      status: workflow.status, progress: { done: workflow.steps_done, total: workflow.steps.length } }));
    var counts = Object.keys(workflow.counts).sort().map(function (s) { return B.statusLabel(s) + " " + workflow.counts[s]; }).join(" · ");
    document.getElementById("dag-legend").textContent = counts;
    var fields = [
      field("Steps", workflow.steps_total + (workflow.steps.length > workflow.steps_total ? " (+" + (workflow.steps.length - workflow.steps_total) + " callbacks)" : "")),
      field("Owner", workflow.owner),
      field("Runs", String(workflow.runs)),
      field("Created", B.time(workflow.created_at)),
      field("Finished", B.time(workflow.finished_at)),
    ];
    if (workflow.canceled_at) fields.push(field("Canceled", B.time(workflow.canceled_at)));
    document.getElementById("workflow-fields").replaceChildren.apply(document.getElementById("workflow-fields"), fields);
    if (!dag.firstChild) D.draw(dag, workflow); else D.paint(dag, workflow);

    var rows = document.getElementById("step-rows");
    rows.replaceChildren.apply(rows, workflow.steps.map(function (s) {
      var status = s.status || "WAITING";
      var waiting = status === "WAITING" && s.pending_parents ? " (" + s.pending_parents + " to go)" : "";
      return el("tr", { "data-step": s.name, "data-status": status }, [
        el("th", { scope: "row" }, [el("a", { href: "/ui/jobs/" + s.job_id, text: s.name }),
          s.role !== "step" ? el("span", { className: "hint", text: " " + s.role }) : null,
          el("div", { className: "jobcell__meta muted", text: s.type })]),
        el("td", { "data-label": "Status" }, [B.badge({ status: status, cancel_requested: false }),
          el("span", { className: "hint", text: waiting }),
          s.error ? el("div", { className: "jobcell__error", text: s.error.code + ": " + s.error.message }) : null]),
        el("td", { "data-label": "Needs", text: s.needs.join(", ") || "—" }),
        el("td", { "data-label": "Started" }, [B.time(s.started_at)]),
        el("td", { "data-label": "Finished" }, [B.time(s.finished_at)]),
        el("td", { "data-label": "Duration", className: "num", text: B.duration(s.duration_seconds) }),
        el("td", { "data-label": "Result", className: "mono", text: s.result_summary || "—" }),
      ]);
    }));

    var timeline = document.getElementById("workflow-timeline");
    timeline.replaceChildren.apply(timeline, (workflow.timeline || []).map(function (entry) {
      return el("li", { className: "timeline__entry", "data-event": entry.event }, [
        B.time(entry.at, "timeline__time"),
        el("span", { className: "timeline__event", text: entry.event.replace(/_/g, " ") }),
        entry.message ? el("span", { className: "timeline__message", text: entry.message }) : null,
      ]);
    }));
    cancelButton.hidden = workflow.status !== "RUNNING";
    cancelButton.disabled = workflow.cancel_requested;
    cancelButton.textContent = workflow.cancel_requested ? "Cancel requested" : "Cancel workflow";
    retryButton.hidden = !((workflow.status === "FAILED" || workflow.status === "CANCELED") && workflow.steps_done === workflow.steps.length);
  }

  function refresh() {
    return B.api("GET", "/workflows/" + workflowId).then(function (response) {
      if (!response.ok) {
        actionError.textContent = B.describeProblem(response);
        actionError.hidden = false;
        return response.status >= 500;
      }
      workflow = response.body;
      render();
      return !settled(workflow);
    });
  }

  function act(action, button) {
    actionError.hidden = true;
    button.disabled = true;
    actionStatus.textContent = action === "cancel" ? "Canceling every step…" : "Retrying…";
    B.api("POST", "/workflows/" + workflowId + "/" + action).then(function (response) {
      actionStatus.textContent = "";
      if (!response.ok) {
        actionError.textContent = B.describeProblem(response);
        actionError.hidden = false;
        return;
      }
      workflow = response.body;
      actionStatus.textContent = action === "cancel" ? "Canceled: no step starts from now on." : "Running again.";
      render();
      poller.start();
    }, function () {
      actionStatus.textContent = "";
      actionError.textContent = "The server could not be reached. Try again.";
      actionError.hidden = false;
    }).finally(function () { button.disabled = false; render(); });
  }

  cancelButton.addEventListener("click", function () { act("cancel", cancelButton); });
  retryButton.addEventListener("click", function () { act("retry", retryButton); });

  render();
  if (!settled(workflow)) poller.start();
})();
