/* A workflow's DAG drawn in SVG: columns by depth (parents left of children), each node a link to its step's job page.
 *
 * layout(workflow) places every step once; draw() builds the SVG; paint(workflow) only recolours the nodes and edges
 * (their status classes), so that a poll does not move anything on screen. A column of more than DENSE steps (a wide
 * fan-out) is drawn as small squares in a grid, their names in each square's tooltip.
 */
"use strict";

window.BatchLabDag = (function () {
  var NS = "http://www.w3.org/2000/svg";
  var W = 150, H = 32, GAP_X = 70, GAP_Y = 10, PAD = 12;
  var DENSE = 30, CELL = 18, DENSE_ROWS = 25;
  var ICONS = { WAITING: "⧗", QUEUED: "◷", PROCESSING: "↻", COMPLETED: "✓", FAILED: "✕", CANCELED: "⊘" };

  function svg(tag, attrs, children) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { if (c) node.append(c); });
    return node;
  }

  function depths(steps) {
    var byName = {}, depth = {}, changed = true, guard = 0;
    steps.forEach(function (s) { byName[s.name] = s; depth[s.name] = 0; });
    /* Longest path from a first step; the graph has no cycle (the API refuses them), so this settles. */
    while (changed && guard++ <= steps.length) {
      changed = false;
      steps.forEach(function (s) {
        if (s.role !== "step") return;
        s.needs.forEach(function (p) {
          if (depth[p] + 1 > depth[s.name]) { depth[s.name] = depth[p] + 1; changed = true; }
        });
      });
    }
    var last = 0;
    steps.forEach(function (s) { if (s.role === "step") last = Math.max(last, depth[s.name]); });
    steps.forEach(function (s) { if (s.role !== "step") depth[s.name] = last + 1; });
    return depth;
  }

  function layout(workflow) {
    var steps = workflow.steps, depth = depths(steps), columns = [], row = {};
    steps.forEach(function (s) { (columns[depth[s.name]] = columns[depth[s.name]] || []).push(s); });
    var x = PAD, height = 0, place = {};
    columns.forEach(function (column) {
      /* Order by the mean row of the parents (fewer crossings), then as given. */
      column.forEach(function (s, i) {
        var rows = s.needs.map(function (p) { return row[p]; }).filter(function (r) { return r !== undefined; });
        s._key = rows.length ? rows.reduce(function (a, b) { return a + b; }, 0) / rows.length : i;
      });
      column.sort(function (a, b) { return a._key - b._key; });
      var dense = column.length > DENSE, width = W;
      column.forEach(function (s, i) {
        row[s.name] = i;
        if (dense) {
          var c = Math.floor(i / DENSE_ROWS), r = i % DENSE_ROWS;
          place[s.name] = { x: x + c * CELL, y: PAD + r * CELL, w: CELL - 4, h: CELL - 4, dense: true };
          width = Math.max(width, (c + 1) * CELL);
        } else {
          place[s.name] = { x: x, y: PAD + i * (H + GAP_Y), w: W, h: H, dense: false };
        }
        height = Math.max(height, place[s.name].y + place[s.name].h);
      });
      x += (dense ? width : W) + GAP_X;
    });
    return { place: place, width: x - GAP_X + PAD, height: height + PAD };
  }

  function label(step) {
    var name = step.name.length > 16 ? step.name.slice(0, 15) + "…" : step.name;
    return (ICONS[step.status] || "•") + " " + name;
  }

  function edgePath(a, b) {
    var x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2, mid = (x1 + x2) / 2;
    return "M" + x1 + "," + y1 + " C" + mid + "," + y1 + " " + mid + "," + y2 + " " + x2 + "," + y2;
  }

  function draw(container, workflow) {
    var plan = layout(workflow), place = plan.place, byName = {};
    workflow.steps.forEach(function (s) { byName[s.name] = s; });
    var root = svg("svg", { width: plan.width, height: plan.height, viewBox: "0 0 " + plan.width + " " + plan.height,
                            class: "dag", "data-steps": String(workflow.steps.length) });
    var edges = svg("g", { class: "dag-edges" });
    workflow.edges.forEach(function (edge) {
      edges.append(svg("path", { d: edgePath(place[edge[0]], place[edge[1]]), class: "dag-edge", "data-from": edge[0], "data-to": edge[1] }));
    });
    root.append(edges);
    var nodes = svg("g", { class: "dag-nodes" });
    workflow.steps.forEach(function (s) {
      var p = place[s.name];
      var title = svg("title");
      var group = svg("g", { class: "dag-node", "data-step": s.name, "data-role": s.role }, [
        title,
        svg("rect", { x: p.x, y: p.y, width: p.w, height: p.h, rx: p.dense ? 3 : 6 }),
        p.dense ? null : svg("text", { x: p.x + 10, y: p.y + p.h / 2 + 5 }),
      ]);
      nodes.append(svg("a", { href: "/ui/jobs/" + s.job_id, "aria-label": s.name }, [group]));
    });
    root.append(nodes);
    container.replaceChildren(root);
    paint(container, workflow);
  }

  function paint(container, workflow) {
    var status = {};
    workflow.steps.forEach(function (s) {
      status[s.name] = s.status || "WAITING";
      var node = container.querySelector('.dag-node[data-step="' + CSS.escape(s.name) + '"]');
      if (!node) return;
      node.setAttribute("class", "dag-node dag-node--" + status[s.name].toLowerCase() + (s.role !== "step" ? " dag-node--callback" : ""));
      node.setAttribute("data-status", status[s.name]);
      node.querySelector("title").textContent = s.name + ": " + status[s.name] + (s.role !== "step" ? " (" + s.role + ")" : "");
      var text = node.querySelector("text");
      if (text) text.textContent = label(s);
    });
    container.querySelectorAll(".dag-edge").forEach(function (edge) {
      var from = status[edge.getAttribute("data-from")];
      edge.setAttribute("class", "dag-edge" + (from === "COMPLETED" ? " dag-edge--done" : from === "FAILED" || from === "CANCELED" ? " dag-edge--broken" : ""));
    });
  }

  return { layout: layout, draw: draw, paint: paint };
})();
