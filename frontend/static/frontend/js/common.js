/* BatchLab page helpers shared by the pages: the JSON API, badges, times, and the poller. */
"use strict";

window.BatchLab = (function () {
  var FINAL = ["COMPLETED", "FAILED", "CANCELED"];
  var ICONS = { SCHEDULED: "⏲", WAITING: "⧗", QUEUED: "◷", PROCESSING: "↻", COMPLETED: "✓", FAILED: "✕", CANCELED: "⊘" };
  /* Why a QUEUED job has not started (its type's pause or limits: see the Job types page). */
  var WAITING = { paused: "waiting: its type is paused", concurrency_limit: "waiting for a concurrency slot",
                  rate_limit: "waiting for its turn (rate limit)" };

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /* An API call; resolves to {ok, status, body}. Rejects only when the network fails. */
  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") init.headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text.slice(0, 200) }; }
        return { ok: response.ok, status: response.status, body: data };
      });
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.append(child);
    });
    return node;
  }

  /*
   * Live updates change the page in place: `morph(node, fresh)` makes `node` look like the freshly
   * built `fresh` by changing only the attributes and text that differ, so an element a person
   * hovers, focuses or selects text in (or a script holds) stays the same element across polls.
   * Children are matched by their `data-key` (or id) where they have one, else by position; a node
   * of another tag or key is replaced. Returns the node that is on the page afterwards.
   */
  function keyOf(node) {
    return node.nodeType === 1 ? (node.getAttribute("data-key") || node.id || null) : null;
  }

  function morph(node, fresh) {
    if (node.nodeType !== fresh.nodeType || node.nodeName !== fresh.nodeName || keyOf(node) !== keyOf(fresh)) {
      node.replaceWith(fresh);
      return fresh;
    }
    if (node.nodeType !== 1) {
      if (node.nodeValue !== fresh.nodeValue) node.nodeValue = fresh.nodeValue;
      return node;
    }
    Array.from(fresh.attributes).forEach(function (attr) {
      if (node.getAttribute(attr.name) !== attr.value) node.setAttribute(attr.name, attr.value);
    });
    Array.from(node.attributes).forEach(function (attr) {
      if (!fresh.hasAttribute(attr.name)) node.removeAttribute(attr.name);
    });
    morphChildren(node, Array.from(fresh.childNodes));
    return node;
  }

  /* Make `parent`'s children the nodes (or strings) of `fresh`, in place (see morph). */
  function morphChildren(parent, fresh) {
    var keyed = {};
    Array.from(parent.childNodes).forEach(function (child) {
      var key = keyOf(child);
      if (key) keyed[key] = child;
    });
    fresh.forEach(function (item, index) {
      var node = typeof item === "string" ? document.createTextNode(item) : item;
      var key = keyOf(node), at = parent.childNodes[index] || null;
      var match = key ? keyed[key] : (at && !keyOf(at) && at.nodeName === node.nodeName ? at : null);
      if (!match) { parent.insertBefore(node, at); return; }
      if (match !== at) parent.insertBefore(match, at);
      morph(match, node);
    });
    while (parent.childNodes.length > fresh.length) parent.lastChild.remove();
  }

  /* Set a node's text only when it differs (a selection inside it survives a poll that changed nothing). */
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function isFinal(status) { return FINAL.indexOf(status) !== -1; }

  function statusLabel(status) { return status.charAt(0) + status.slice(1).toLowerCase(); }

  /* Status as icon + text (never colour alone). */
  function badge(job) {
    var node = el("span", { className: "badge badge--" + job.status.toLowerCase(), "data-status": job.status }, [
      el("span", { className: "badge__icon", "aria-hidden": "true", text: ICONS[job.status] || "•" }),
      el("span", { className: "badge__text", text: statusLabel(job.status) }),
    ]);
    if (job.cancel_requested && !isFinal(job.status)) {
      node.append(el("span", { className: "badge__note", text: " · cancel requested" }));
    }
    if (job.waiting_for && job.status === "QUEUED") {
      node.append(el("span", { className: "badge__note", "data-waiting-for": job.waiting_for, text: " · " + WAITING[job.waiting_for] }));
    }
    return node;
  }

  function progressBar(job) {
    var done = job.progress.done, total = job.progress.total;
    if (!total) {
      return el("span", { className: "progress progress--none", text: job.status === "COMPLETED" ? "done" : "—" });
    }
    var pct = Math.max(0, Math.min(100, Math.round((done / total) * 100)));
    var bar = el("span", {
      className: "progress__bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(total),
      "aria-valuenow": String(done), "aria-label": "Progress",
    }, [el("span", { className: "progress__fill", style: "width:" + pct + "%" })]);
    return el("span", { className: "progress" }, [bar, el("span", { className: "progress__text", text: done + "/" + total })]);
  }

  /* Local time, 24-hour with seconds (short jobs differ by seconds); the ISO time is in the title. */
  var clock = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
  var dateFormat = new Intl.DateTimeFormat(undefined, Object.assign({ year: "numeric", month: "short", day: "numeric" }, clock));
  var timeFormat = new Intl.DateTimeFormat(undefined, clock);

  function time(iso, className) {
    if (!iso) return el("span", { className: "muted", text: "—" });
    var date = new Date(iso);
    var sameDay = date.toDateString() === new Date().toDateString();
    return el("time", { datetime: iso, title: iso, className: className, text: (sameDay ? timeFormat : dateFormat).format(date) });
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 60) return (Math.round(seconds * 10) / 10) + " s";
    var minutes = Math.floor(seconds / 60), rest = Math.round(seconds - minutes * 60);
    if (minutes < 60) return minutes + " min " + rest + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  function pretty(value) { return JSON.stringify(value, null, 2); }

  /*
   * Calls `tick()` (which returns a promise of true while something can still change)
   * every `visibleMs`, or every `hiddenMs` while the tab is hidden; stops when tick
   * says nothing can change, until start() is called again.
   */
  function Poller(tick, options) {
    var timer = null, running = false, busy = false;
    var visibleMs = options.visibleMs, hiddenMs = options.hiddenMs;

    function delay() { return document.visibilityState === "hidden" ? hiddenMs : visibleMs; }

    function schedule(ms) {
      clearTimeout(timer);
      timer = setTimeout(run, ms === undefined ? delay() : ms);
    }

    function run() {
      timer = null;
      if (!running || busy) return;
      busy = true;
      Promise.resolve().then(tick).then(function (more) {
        busy = false;
        if (more && running) schedule(); else stop();
      }, function () {
        busy = false;
        if (running) schedule();  /* network trouble: keep trying at the same pace */
      });
    }

    function start() {
      if (running) return;
      running = true;
      schedule();
      if (options.onChange) options.onChange(true);
    }

    function stop() {
      running = false;
      clearTimeout(timer);
      timer = null;
      if (options.onChange) options.onChange(false);
    }

    document.addEventListener("visibilitychange", function () {
      /* Back in view: refresh at once; going hidden: the next wait is the long one. */
      if (!running) return;
      if (document.visibilityState === "visible") schedule(0); else schedule();
    });

    return { start: start, stop: stop, isRunning: function () { return running; } };
  }

  function pollOptions(root) {
    return {
      visibleMs: parseInt(root.dataset.pollVisibleMs, 10) || 5000,
      hiddenMs: parseInt(root.dataset.pollHiddenMs, 10) || 30000,
    };
  }

  function describeProblem(response) {
    var body = response.body || {};
    if (response.status === 401 || response.status === 403) {
      return "You are no longer logged in (or not allowed). Reload the page to log in again.";
    }
    return body.detail || ("The server answered " + response.status + ".");
  }

  return {
    api: api, csrfToken: csrfToken, el: el, isFinal: isFinal, statusLabel: statusLabel, badge: badge, progressBar: progressBar,
    time: time, duration: duration, pretty: pretty, Poller: Poller, pollOptions: pollOptions,
    describeProblem: describeProblem, morph: morph, morphChildren: morphChildren, setText: setText,
  };
})();
