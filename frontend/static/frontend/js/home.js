/* My jobs: the submit form, the list with filters and pages, and one aggregated poll for every job on screen. */
"use strict";

(function () {
  var B = window.BatchLab, el = B.el;
  var root = document.getElementById("app");
  var PAGE_SIZE = 20, MAX_IDS = 100;
  var owner = root.dataset.owner;
  var params = new URLSearchParams(location.search);
  var state = {
    status: params.get("status") || "",
    type: params.get("type") || "",
    cursor: null,
    previous: [],        /* cursors of the pages before this one (null = the first page) */
    nextCursor: null,
    jobs: [],            /* the jobs on screen, newest first */
    types: {},
    lastExample: "",
    loads: 0,            /* sequence number of the latest list request */
    submitted: [],       /* ids of the jobs submitted from this page since the latest list request was sent */
    fresh: {},           /* ids of the jobs submitted from this page (their rows flash once) */
  };

  var form = document.getElementById("submit-form");
  var nameInput = document.getElementById("job-name");
  var typeSelect = document.getElementById("job-type");
  var typeHelp = document.getElementById("type-help");
  var payloadInput = document.getElementById("job-payload");
  var itemsField = document.getElementById("items-field");
  var itemsInput = document.getElementById("job-items");
  var itemsFile = document.getElementById("job-items-file");
  var delayInput = document.getElementById("job-delay-minutes");
  var runAtInput = document.getElementById("job-run-at");
  var submitButton = document.getElementById("submit-button");
  var submitStatus = document.getElementById("submit-status");
  var formError = document.getElementById("form-error");
  var statusFilter = document.getElementById("filter-status");
  var typeFilter = document.getElementById("filter-type");
  var table = document.getElementById("job-table");
  var rows = document.getElementById("job-rows");
  var empty = document.getElementById("empty");
  var listError = document.getElementById("list-error");
  var liveState = document.getElementById("live-state");
  var newer = document.getElementById("page-newer");
  var older = document.getElementById("page-older");
  var pageLabel = document.getElementById("page-label");

  var poller = B.Poller(refreshOnScreen, Object.assign(B.pollOptions(root), {
    onChange: function (running) { liveState.textContent = running ? "Live: updating every few seconds" : ""; },
  }));

  /* --- job types and the payload example --------------------------------------------------- */

  function showExample(force) {
    var type = state.types[typeSelect.value];
    /* Descriptions come from handler docstrings, where `name` marks code. */
    typeHelp.replaceChildren.apply(typeHelp, (type ? type.description : "").split("`").map(function (part, i) {
      return i % 2 ? el("code", { text: part }) : document.createTextNode(part);
    }));
    if (!type) return;
    /* An item type: show the items box (with its example items unless the user wrote some). */
    itemsField.hidden = !type.items;
    if (type.items && (!itemsInput.value.trim() || itemsInput.value === state.lastItems)) {
      itemsInput.value = (type.items.example_items || []).map(function (v) { return JSON.stringify(v); }).join("\n");
      state.lastItems = itemsInput.value;
    }
    /* An item type's payload holds the options of every item, not a payload job's fields. */
    var example = B.pretty(type.items ? {} : (type.example || {}));
    /* Replace the payload only if the user has not written their own. */
    if (force || !payloadInput.value.trim() || payloadInput.value === state.lastExample) {
      payloadInput.value = example;
    }
    state.lastExample = example;
  }

  function loadTypes() {
    return B.api("GET", "/job-types").then(function (response) {
      if (!response.ok) throw new Error(B.describeProblem(response));
      var types = response.body.results;
      typeSelect.replaceChildren();
      types.forEach(function (t) {
        state.types[t.name] = t;
        typeSelect.append(el("option", { value: t.name, text: t.name }));
        typeFilter.append(el("option", { value: t.name, text: t.name }));
      });
      typeFilter.value = state.type;
      if (types.some(function (t) { return t.name === "echo"; })) typeSelect.value = "echo";
      showExample(true);
    }).catch(function (err) {
      typeSelect.replaceChildren(el("option", { value: "", text: "Could not load the job types" }));
      showFormError(err.message || String(err));
    });
  }

  typeSelect.addEventListener("change", function () { showExample(false); });
  document.getElementById("use-example").addEventListener("click", function () { showExample(true); payloadInput.focus(); });

  /* --- submitting ------------------------------------------------------------------------------ */

  var FIELDS = { name: nameInput, type: typeSelect, payload: payloadInput, items: itemsInput,
                 delay_seconds: delayInput, run_at: runAtInput };

  /* "Run later": {delay_seconds} from "in N minutes", {run_at} (UTC) from a local date and time, {} for now; null if bad. */
  function later() {
    var minutes = delayInput.value.trim(), at = runAtInput.value;
    if (minutes && at) {
      showFieldError("delay_seconds", ["Give minutes or a time, not both."]);
      return null;
    }
    if (minutes) {
      var n = Number(minutes);
      if (!Number.isInteger(n) || n < 0) { showFieldError("delay_seconds", ["A whole number of minutes."]); return null; }
      return { delay_seconds: n * 60 };
    }
    if (at) {
      var when = new Date(at);  /* datetime-local: the user's local time */
      if (isNaN(when.getTime())) { showFieldError("run_at", ["Not a date and time."]); return null; }
      return { run_at: when.toISOString() };
    }
    return {};
  }

  function messagesOf(value) {
    if (Array.isArray(value)) return value.reduce(function (all, v) { return all.concat(messagesOf(v)); }, []);
    if (value && typeof value === "object") {
      return Object.keys(value).reduce(function (all, k) {
        return all.concat(messagesOf(value[k]).map(function (m) { return k + ": " + m; }));
      }, []);
    }
    return [String(value)];
  }

  function clearErrors() {
    formError.hidden = true;
    formError.textContent = "";
    Object.keys(FIELDS).forEach(function (name) {
      var box = document.getElementById(name + "-error");
      box.hidden = true;
      box.replaceChildren();
      FIELDS[name].removeAttribute("aria-invalid");
    });
  }

  function showFieldError(field, lines) {
    var box = document.getElementById(field + "-error");
    lines.forEach(function (line) { box.append(el("span", { className: "field-error__line", text: line })); });
    box.hidden = false;
    FIELDS[field].setAttribute("aria-invalid", "true");
  }

  function showFormError(text) {
    formError.textContent = text;
    formError.hidden = false;
  }

  /* Validation errors ("name", "type", "payload", "payload.seconds", ...) go next to their field. */
  function showProblem(problem) {
    var errors = (problem && problem.errors) || null;
    if (!errors) { showFormError((problem && problem.detail) || "The job could not be submitted."); return; }
    var byField = {}, other = [];
    Object.keys(errors).forEach(function (key) {
      var field = key.split(".")[0];
      var sub = key.indexOf(".") > 0 ? key.slice(key.indexOf(".") + 1) : null;
      var lines = messagesOf(errors[key]).map(function (m) { return sub ? sub + ": " + m : m; });
      if (FIELDS[field]) byField[field] = (byField[field] || []).concat(lines);
      else other = other.concat(lines);
    });
    Object.keys(byField).forEach(function (field) { showFieldError(field, byField[field]); });
    if (other.length) showFormError(other.join(" "));
    var first = Object.keys(FIELDS).filter(function (f) { return byField[f]; })[0];
    if (first) FIELDS[first].focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var payload;
    try {
      payload = payloadInput.value.trim() ? JSON.parse(payloadInput.value) : {};
    } catch (err) {
      showFieldError("payload", ["Not valid JSON: " + err.message]);
      payloadInput.focus();
      return;
    }
    var type = state.types[typeSelect.value];
    var when = later();
    if (when === null) return;
    var request;
    if (type && type.items && itemsFile.files.length) {
      request = submitFile(payload, itemsFile.files[0], when);
    } else if (type && type.items && itemsInput.value.trim()) {
      var items = [], bad = [];
      itemsInput.value.split("\n").forEach(function (line, i) {
        if (!line.trim()) return;
        try { items.push(JSON.parse(line)); } catch (err) { bad.push("line " + (i + 1) + ": not valid JSON"); }
      });
      if (bad.length) { showFieldError("items", bad.slice(0, 20)); itemsInput.focus(); return; }
      request = B.api("POST", "/jobs", Object.assign({ name: nameInput.value, type: typeSelect.value, payload: payload, items: items }, when));
    } else {
      request = B.api("POST", "/jobs", Object.assign({ name: nameInput.value, type: typeSelect.value, payload: payload }, when));
    }
    submitButton.disabled = true;
    submitStatus.textContent = "Submitting…";
    request.then(function (response) {
      if (!response.ok) {
        submitStatus.textContent = "";
        showProblem(response.body || { detail: B.describeProblem(response) });
        return;
      }
      var job = response.body;
      var due = job.status === "SCHEDULED" || (job.run_at && job.status === "QUEUED") ? ["; due ", B.time(job.run_at), "."] : ["."];
      submitStatus.replaceChildren.apply(submitStatus, ["Submitted ", el("a", { href: "/ui/jobs/" + job.id, text: job.name })].concat(due));
      addSubmitted(job);
    }, function () {
      submitStatus.textContent = "";
      showFormError("The server could not be reached; nothing was submitted. Try again.");
    }).finally(function () { submitButton.disabled = false; });
  });

  /* An NDJSON file goes as multipart/form-data to /jobs/files (streamed to S3 by the server). */
  function submitFile(payload, file, when) {
    var data = new FormData();
    Object.keys(when).forEach(function (key) { data.append(key, String(when[key])); });
    data.append("name", nameInput.value);
    data.append("type", typeSelect.value);
    data.append("payload", JSON.stringify(payload));
    data.append("file", file);
    return fetch("/jobs/files", {
      method: "POST", credentials: "same-origin", body: data,
      headers: { "Accept": "application/json", "X-CSRFToken": B.csrfToken() },
    }).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = { detail: text.slice(0, 200) }; }
        return { ok: response.ok, status: response.status, body: body };
      });
    });
  }

  function addSubmitted(job) {
    var onFirstPage = state.cursor === null;
    var matches = (!state.status || state.status === job.status) && (!state.type || state.type === job.type);
    if (onFirstPage && matches && !state.jobs.some(function (j) { return j.id === job.id; })) {
      state.jobs.unshift(job);
      state.submitted.push(job.id);
      state.fresh[job.id] = true;
      render();
    }
    poller.start();
  }

  /* --- the list --------------------------------------------------------------------------------- */

  function cell(label, content, className) {
    return el("td", { "data-label": label, className: className }, [content]);
  }

  function rowFor(job) {
    var title = el("div", { className: "jobcell" }, [
      el("a", { href: "/ui/jobs/" + job.id, className: "jobcell__name", text: job.name }),
      el("span", { className: "jobcell__meta" }, [
        el("span", { className: "tag", text: job.type }), " ",
        el("span", { className: "mono muted", text: job.id.slice(0, 8) }),
      ]),
    ]);
    if (job.run_at && (job.status === "SCHEDULED" || job.status === "QUEUED")) {
      title.append(el("span", { className: "jobcell__due hint" }, ["due ", B.time(job.run_at)]));
    }
    var tr = el("tr", { "data-key": job.id, "data-job-id": job.id, "data-status": job.status,
                        className: state.fresh[job.id] ? "is-new" : null }, [
      el("th", { scope: "row", "data-label": "Job" }, [title]),
      cell("Status", B.badge(job)),
      cell("Progress", B.progressBar(job)),
      cell("Created", B.time(job.created_at)),
      cell("Started", B.time(job.started_at)),
      cell("Finished", B.time(job.finished_at)),
      cell("Duration", document.createTextNode(B.duration(job.duration_seconds)), "num"),
    ]);
    if (job.error) {
      tr.querySelector("th .jobcell").append(el("span", { className: "jobcell__error", text: "✕ " + job.error.message }));
    }
    return tr;
  }

  /* The rows are updated in place (B.morphChildren): a row a person points at, or has selected text in, stays. */
  function render() {
    B.morphChildren(rows, state.jobs.map(rowFor));
    empty.hidden = state.jobs.length > 0;
    empty.textContent = state.status || state.type ? "No jobs match these filters." : "No jobs yet. Submit one above.";
    newer.disabled = state.cursor === null;
    older.disabled = !state.nextCursor;
    pageLabel.textContent = state.previous.length ? "Page " + (state.previous.length + 1) : "";
  }

  function updateUrl() {
    var query = new URLSearchParams();
    if (state.status) query.set("status", state.status);
    if (state.type) query.set("type", state.type);
    var search = query.toString();
    history.replaceState(null, "", location.pathname + (search ? "?" + search : ""));
  }

  function loadPage() {
    var query = new URLSearchParams({ owner: owner, limit: String(PAGE_SIZE) });
    if (state.status) query.set("status", state.status);
    if (state.type) query.set("type", state.type);
    if (state.cursor) query.set("cursor", state.cursor);
    listError.hidden = true;
    table.setAttribute("aria-busy", "true");
    var seq = ++state.loads;
    state.submitted = [];
    return B.api("GET", "/jobs?" + query.toString()).then(function (response) {
      if (seq !== state.loads) return;  /* a newer load (other filters or page) has started: drop this one */
      if (!response.ok) throw new Error(B.describeProblem(response));
      /* A job submitted while this answer was on its way is not in it: keep it on top. */
      var results = response.body.results;
      state.jobs = state.jobs.filter(function (job) {
        return state.submitted.indexOf(job.id) !== -1 && !results.some(function (r) { return r.id === job.id; });
      }).concat(results);
      state.submitted = [];
      state.nextCursor = response.body.next_cursor;
      render();
      if (state.jobs.some(function (j) { return !B.isFinal(j.status); })) poller.start(); else poller.stop();
    }).catch(function (err) {
      if (seq !== state.loads) return;
      listError.textContent = "Could not load your jobs: " + (err.message || err);
      listError.hidden = false;
    }).finally(function () {
      if (seq === state.loads) table.setAttribute("aria-busy", "false");
    });
  }

  /* One request for every job on screen that can still change (at most 100 ids). */
  function refreshOnScreen() {
    var ids = state.jobs.filter(function (j) { return !B.isFinal(j.status); }).map(function (j) { return j.id; }).slice(0, MAX_IDS);
    if (!ids.length) return false;
    return B.api("GET", "/jobs?ids=" + ids.join(",")).then(function (response) {
      if (response.status === 401 || response.status === 403) {
        listError.textContent = B.describeProblem(response);
        listError.hidden = false;
        return false;
      }
      if (!response.ok) throw new Error(B.describeProblem(response));
      listError.hidden = true;
      response.body.results.forEach(function (fresh) {
        var index = state.jobs.findIndex(function (j) { return j.id === fresh.id; });
        if (index === -1 || state.jobs[index].version === fresh.version) return;
        state.jobs[index] = fresh;
        var row = rows.querySelector('[data-job-id="' + fresh.id + '"]');
        if (row) B.morph(row, rowFor(fresh));
      });
      return state.jobs.some(function (j) { return !B.isFinal(j.status); });
    });
  }

  function applyFilters() {
    state.status = statusFilter.value;
    state.type = typeFilter.value;
    state.cursor = null;
    state.previous = [];
    updateUrl();
    loadPage();
  }

  statusFilter.value = state.status;
  statusFilter.addEventListener("change", applyFilters);
  typeFilter.addEventListener("change", applyFilters);
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); applyFilters(); });
  older.addEventListener("click", function () {
    if (!state.nextCursor) return;
    state.previous.push(state.cursor);
    state.cursor = state.nextCursor;
    loadPage().then(function () { document.getElementById("jobs-title").scrollIntoView(); });
  });
  newer.addEventListener("click", function () {
    state.cursor = state.previous.length ? state.previous.pop() : null;
    loadPage();
  });

  loadTypes().then(function () { typeFilter.value = state.type; });
  loadPage();
})();
