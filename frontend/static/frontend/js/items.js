/* An item job on its page: a progress bar with counts, items/s and time left, a strip of chunks by state, the failed items; updated in place. */
"use strict";

window.BatchLabItems = (function () {
  var B = window.BatchLab, el = B.el;
  var lastVersion = null;
  /* The job page's Attempts field for an item job: attempts belong to chunks (the job's own count stays 0). */
  var attempts = "per chunk";

  function attemptsText(chunks) {
    if (!chunks.length) return "per chunk";
    var counts = chunks.map(function (c) { return c.attempts; });
    var low = Math.min.apply(null, counts), high = Math.max.apply(null, counts);
    return "per chunk: " + (low === high ? low + " each" : low + " to " + high) +
      " (" + chunks.length + (chunks.length === 1 ? " chunk)" : " chunks)");
  }

  function seconds(value) {
    if (value === null || value === undefined) return "—";
    if (value < 90) return Math.round(value) + " s";
    return Math.round(value / 60) + " min";
  }

  function bar(items) {
    var done = items.succeeded + items.failed + items.skipped;
    var pct = items.total ? Math.floor((100 * done) / items.total) : 0;
    return el("div", { className: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(items.total),
                       "aria-valuenow": String(done), "aria-label": "Items done" }, [
      el("span", { className: "progress__bar" }, [el("span", { className: "progress__fill", style: "width:" + pct + "%" })]),
      el("span", { className: "progress__text", text: done + "/" + items.total }),
    ]);
  }

  function loadChunks(jobId) {
    return B.api("GET", "/jobs/" + jobId + "/chunks?limit=1000").then(function (response) {
      if (!response.ok) return;
      var strip = document.getElementById("chunk-strip");
      B.morphChildren(strip, response.body.results.map(function (c) {
        return el("span", { "data-key": "chunk-" + c.number, className: "chunk chunk--" + c.status.toLowerCase() + (c.failed ? " chunk--has-failed" : ""),
                            "data-status": c.status,
                            title: "Chunk " + c.number + " (lines " + c.first_line + "–" + c.last_line + "): " + c.status +
                                   ", " + c.succeeded + " succeeded, " + c.failed + " failed, attempts " + c.attempts +
                                   (c.worker ? ", " + c.worker : "") });
      }));
      attempts = attemptsText(response.body.results);
      var field = document.querySelector('[data-field="Attempts"]');
      if (field) B.setText(field, attempts);
    });
  }

  function loadFailed(jobId) {
    return B.api("GET", "/jobs/" + jobId + "/items?status=failed&limit=50").then(function (response) {
      if (!response.ok) return;
      var body = document.getElementById("failed-items");
      B.morphChildren(body, response.body.results.map(function (row) {
        return el("tr", { "data-key": "line-" + row.line, "data-line": String(row.line) }, [
          el("td", { className: "mono", text: String(row.line) }),
          el("td", { className: "mono", text: JSON.stringify(row.input) }),
          el("td", { text: (row.error.code ? row.error.code + ": " : "") + row.error.message }),
        ]);
      }));
      B.setText(document.getElementById("failed-items-more"), response.body.next_cursor
        ? "The first 50 are shown; GET /jobs/" + jobId + "/items?status=failed lists them all." : "");
    });
  }

  function render(job) {
    var section = document.getElementById("job-items");
    if (!section) return;
    section.hidden = !job.items;
    if (!job.items || job.version === lastVersion) return;
    lastVersion = job.version;
    var items = job.items;
    B.morphChildren(document.getElementById("items-progress"), [bar(items)]);
    B.setText(document.getElementById("items-counts"),
      items.succeeded + " succeeded, " + items.failed + " failed, " + items.skipped + " skipped of " + items.total +
      " · chunks " + items.chunks_done + "/" + items.chunks_total +
      " · " + (items.items_per_second === null ? "—" : items.items_per_second) + " items/s" +
      (B.isFinal(job.status) ? "" : " · time left " + seconds(items.eta_seconds)));
    loadChunks(job.id);
    document.getElementById("failed-items-box").hidden = !items.failed;
    if (items.failed) loadFailed(job.id);
    else B.morphChildren(document.getElementById("failed-items"), []);
  }

  return { render: render, attempts: function () { return attempts; } };
})();
