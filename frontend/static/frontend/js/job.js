/* A job's page: every field, payload, result, error and timeline; Cancel / Retry; polls while not final, updating in place. */
"use strict";

(function () {
  var B = window.BatchLab, el = B.el;
  var root = document.getElementById("app");
  var jobId = root.dataset.jobId;
  var job = JSON.parse(document.getElementById("job-data").textContent);

  var cancelButton = document.getElementById("cancel-button");
  var retryButton = document.getElementById("retry-button");
  var runNowButton = document.getElementById("run-now-button");
  var actionStatus = document.getElementById("action-status");
  var actionError = document.getElementById("action-error");
  var liveState = document.getElementById("live-state");

  var poller = B.Poller(refresh, Object.assign(B.pollOptions(root), {
    onChange: function (running) { liveState.textContent = running ? "Live" : ""; },
  }));

  function field(label, value) {
    var content = typeof value === "string" ? document.createTextNode(value) : value;
    return el("div", { "data-key": label }, [el("dt", { text: label }), el("dd", { "data-field": label }, [content])]);
  }

  /* Every part is updated in place (B.morphChildren, B.setText): what a person points at or selects stays. */
  function render() {
    document.title = job.name + " · BatchLab";
    B.setText(document.getElementById("job-name"), job.name);
    B.morphChildren(document.getElementById("job-status"), [B.badge(job)]);
    var progress = document.getElementById("job-progress");
    B.morphChildren(progress, job.progress.total ? [B.progressBar(job)] : []);
    progress.hidden = !job.progress.total;

    var errorBox = document.getElementById("job-error");
    if (job.error) {
      B.morphChildren(errorBox, [
        el("strong", { text: "✕ Error" + (job.error.code ? " (" + job.error.code + ")" : "") + ": " }),
        el("span", { className: "job-error__message", text: job.error.message || "" })]);
      errorBox.hidden = false;
    } else {
      errorBox.hidden = true;
    }

    var fields = [
      field("Type", el("a", { className: "tag", href: "/ui/job-types/" + encodeURIComponent(job.type), text: job.type })),
      field("Status", B.badge(job)),
      field("Priority", job.priority),
      field("Owner", job.owner),
      field("Attempts", job.items && window.BatchLabItems ? window.BatchLabItems.attempts() : job.attempts + " of " + job.max_attempts),
      field("Progress", job.progress.total ? job.progress.done + "/" + job.progress.total : "—"),
      field("Created", B.time(job.created_at)),
      field("Started", B.time(job.started_at)),
      field("Finished", B.time(job.finished_at)),
      field("Duration", B.duration(job.duration_seconds)),
      field("Updated", B.time(job.updated_at)),
      field("Expires", B.time(job.expires_at)),
      field("Version", String(job.version)),
    ];
    if (job.run_at) fields.splice(5, 0, field("Due", B.time(job.run_at)));
    if (job.schedule_id) {
      fields.splice(1, 0, field("Schedule", el("a", { href: "/ui/schedules/" + job.schedule_id, id: "schedule-link", text: "the schedule that fired it" })));
    }
    if (job.workflow) {
      var w = job.workflow;
      var links = function (refs) {
        if (!refs.length) return "—";
        var span = el("span", {});
        refs.forEach(function (r, i) { if (i) span.append(", "); span.append(el("a", { href: "/ui/jobs/" + r.job_id, text: r.step })); });
        return span;
      };
      fields.splice(1, 0,
        field("Workflow", el("a", { href: "/ui/workflows/" + w.id, id: "workflow-link", text: "step " + w.step + (w.role !== "step" ? " (" + w.role + ")" : "") })),
        field("Needs", links(w.parents)),
        field("Needed by", links(w.children)));
      if (job.status === "WAITING" && w.pending_parents !== null) fields.splice(4, 0, field("Waiting for", w.pending_parents + " parent(s)"));
    }
    B.morphChildren(document.getElementById("job-fields"), fields);

    B.setText(document.getElementById("job-payload"), B.pretty(job.payload));
    B.setText(document.getElementById("job-result"),
      job.result === null || job.result === undefined ? (B.isFinal(job.status) ? "No result." : "Not finished yet.") : B.pretty(job.result));

    if (window.BatchLabItems) window.BatchLabItems.render(job);

    var timeline = document.getElementById("job-timeline");
    B.morphChildren(timeline, (job.timeline || []).map(function (entry) {
      return el("li", { className: "timeline__entry", "data-event": entry.event }, [
        B.time(entry.at, "timeline__time"),
        el("span", { className: "timeline__event", text: entry.event.replace(/_/g, " ") }),
        entry.status ? B.badge({ status: entry.status, cancel_requested: false }) : null,
        entry.message ? el("span", { className: "timeline__message", text: entry.message }) : null,
        entry.worker ? el("span", { className: "timeline__worker mono muted", text: entry.worker }) : null,
      ]);
    }));

    /* The buttons the API allows: cancel for SCHEDULED/QUEUED/PROCESSING, run now for SCHEDULED, retry for FAILED/CANCELED. */
    var cancellable = job.status === "SCHEDULED" || job.status === "QUEUED" || job.status === "PROCESSING";
    runNowButton.hidden = job.status !== "SCHEDULED";
    cancelButton.hidden = !cancellable;
    cancelButton.disabled = cancellable && job.cancel_requested;
    cancelButton.textContent = job.cancel_requested ? "Cancel requested" : "Cancel job";
    /* A workflow's step is retried with its workflow (its page): what is below it runs again too. */
    retryButton.hidden = !!job.workflow || !(job.status === "FAILED" || job.status === "CANCELED" ||
      (job.items && job.status === "COMPLETED" && job.items.failed > 0));
  }

  function refresh() {
    return B.api("GET", "/jobs/" + jobId).then(function (response) {
      if (!response.ok) {
        actionError.textContent = B.describeProblem(response);
        actionError.hidden = false;
        return response.status >= 500;  /* a passing outage: keep polling; 401/404: stop */
      }
      if (response.body.version !== job.version) {
        job = response.body;
        render();
      }
      return !B.isFinal(job.status);
    });
  }

  function act(action, button) {
    actionError.hidden = true;
    button.disabled = true;
    actionStatus.textContent = { cancel: "Canceling…", retry: "Retrying…", "run-now": "Queuing…" }[action];
    B.api("POST", "/jobs/" + jobId + "/" + action).then(function (response) {
      actionStatus.textContent = "";
      if (!response.ok) {
        actionError.textContent = B.describeProblem(response);
        actionError.hidden = false;
        return refresh();
      }
      job = response.body;
      actionStatus.textContent = { cancel: "Cancel sent.", retry: "Queued again.", "run-now": "Queued now." }[action];
      render();
      if (!B.isFinal(job.status)) poller.start();
    }, function () {
      actionStatus.textContent = "";
      actionError.textContent = "The server could not be reached. Try again.";
      actionError.hidden = false;
    }).finally(function () { button.disabled = false; render(); });
  }

  cancelButton.addEventListener("click", function () { act("cancel", cancelButton); });
  retryButton.addEventListener("click", function () { act("retry", retryButton); });
  runNowButton.addEventListener("click", function () { act("run-now", runNowButton); });

  render();
  if (!B.isFinal(job.status)) poller.start();
})();
