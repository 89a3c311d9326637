// fteval report: the per-example browser. Data comes from the inline JSON element; text is only
// ever set with textContent, so model output cannot inject markup.
(function () {
  "use strict";
  var started = performance.now();
  var data = JSON.parse(document.getElementById("fteval-data").textContent);
  var S = data.strings;
  var PAGE = 50;
  var root = document.getElementById("browser");
  var state = { run: 0, show: "all", facets: {}, query: "", page: 0 };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function str(i) { return i < 0 ? null : S[i]; }
  function select(id, label, options, value, onchange) {
    var wrap = el("label", {}, label + " ");
    var sel = el("select", { id: id });
    options.forEach(function (o) {
      var opt = el("option", { value: o[0] }, o[1]);
      if (String(o[0]) === String(value)) opt.selected = true;
      sel.appendChild(opt);
    });
    sel.addEventListener("change", function () { onchange(sel.value); });
    wrap.appendChild(sel);
    return wrap;
  }

  function matches(run, row, pos) {
    var flip = run.flips[String(row[0])];
    if (state.show === "wrong" && !row[9]) return false;
    if (state.show === "unparsed" && row[5]) return false;
    if (state.show === "right->wrong" && flip !== "right->wrong") return false;
    if (state.show === "wrong->right" && flip !== "wrong->right") return false;
    for (var f = 0; f < run.facets.length; f++) {
      var want = state.facets[run.facets[f].name];
      if (want !== undefined && want !== "" && run.facets[f].members[pos].indexOf(Number(want)) < 0) return false;
    }
    if (state.query) {
      var hay = [str(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[6])].join("\n").toLowerCase();
      if (hay.indexOf(state.query) < 0) return false;
    }
    return true;
  }

  function block(parent, key, text) {
    parent.appendChild(el("div", { "class": "k" }, key));
    parent.appendChild(el("pre", {}, text === null ? "(none)" : text));
  }

  function card(run, row) {
    var box = el("div", { "class": "ex " + (row[9] ? "wrong" : "right"), "data-idx": row[0] });
    var head = el("h4", {}, "#" + row[0] + " ");
    if (!row[5]) head.appendChild(el("span", { "class": "tag bad" }, "parse failure"));
    else if (row[9]) head.appendChild(el("span", { "class": "tag bad" }, "wrong"));
    var flip = run.flips[String(row[0])];
    if (flip) head.appendChild(el("span", { "class": "tag" }, flip));
    run.facets.forEach(function (f, i) {
      var pos = run.index[row[0]];
      f.members[pos].forEach(function (m) { head.appendChild(el("span", { "class": "tag" }, f.name + ": " + f.labels[m])); });
    });
    box.appendChild(head);
    if (row[1] >= 0) block(box, "system", str(row[1]));
    block(box, "prompt", str(row[2]));
    block(box, "gold", str(row[3]));
    block(box, "output", str(row[4]));
    block(box, row[5] ? "parsed" : "parse error", str(row[6]));
    var scores = el("table", { "class": "scores" });
    row[7].forEach(function (s) {
      var tr = el("tr");
      tr.appendChild(el("td", {}, run.metrics[s[0]]));
      tr.appendChild(el("td", {}, String(s[1])));
      tr.appendChild(el("td", {}, str(s[2]) || ""));
      scores.appendChild(tr);
    });
    if (row[8] !== null) {
      var tr = el("tr");
      tr.appendChild(el("td", {}, "latency (s)"));
      tr.appendChild(el("td", {}, String(row[8])));
      tr.appendChild(el("td", {}, ""));
      scores.appendChild(tr);
    }
    box.appendChild(scores);
    return box;
  }

  function render() {
    var run = data.runs[state.run];
    root.textContent = "";
    if (!run) { root.appendChild(el("p", {}, "No runs.")); return; }
    var controls = el("div", { "class": "controls" });
    controls.appendChild(select("f-run", "run", data.runs.map(function (r, i) { return [i, r.name + " (" + r.id + ")"]; }), state.run,
      function (v) {
        state.run = Number(v); state.facets = {}; state.page = 0;
        // a flip filter means nothing for a run outside the comparison
        if (state.show.indexOf("->") >= 0 && !Object.keys(data.runs[state.run].flips).length) state.show = "all";
        render();
      }));
    var shows = [["all", "all"], ["wrong", "wrong only"], ["unparsed", "parse failures"]];
    if (Object.keys(run.flips).length) shows.push(["right->wrong", "right \u2192 wrong"], ["wrong->right", "wrong \u2192 right"]);
    controls.appendChild(select("f-show", "show", shows, state.show, function (v) { state.show = v; state.page = 0; render(); }));
    run.facets.forEach(function (f) {
      var opts = [["", "any"]].concat(f.labels.map(function (l, i) { return [i, l]; }));
      controls.appendChild(select("f-facet-" + f.name.replace(/\W+/g, "-"), f.name, opts, state.facets[f.name] || "",
        function (v) { state.facets[f.name] = v; state.page = 0; render(); }));
    });
    var search = el("input", { type: "search", id: "f-search", placeholder: "search prompt, gold, output" });
    search.value = state.query;
    search.addEventListener("input", function () { state.query = search.value.toLowerCase(); state.page = 0; renderList(); });
    controls.appendChild(search);
    root.appendChild(controls);
    root.appendChild(el("div", { id: "list" }));
    renderList();
  }

  function renderList() {
    var run = data.runs[state.run];
    var list = document.getElementById("list");
    var hits = [];
    for (var i = 0; i < run.rows.length; i++) if (matches(run, run.rows[i], i)) hits.push(run.rows[i]);
    var pages = Math.max(1, Math.ceil(hits.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    list.textContent = "";
    var pager = el("div", { "class": "pager" });
    pager.appendChild(el("span", { "class": "count", id: "count" }, hits.length + " of " + run.rows.length + " examples"));
    var prev = el("button", { id: "prev" }, "\u2190 previous");
    var next = el("button", { id: "next" }, "next \u2192");
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    prev.addEventListener("click", function () { state.page--; renderList(); });
    next.addEventListener("click", function () { state.page++; renderList(); });
    pager.appendChild(prev);
    pager.appendChild(el("span", {}, "page " + (state.page + 1) + " of " + pages));
    pager.appendChild(next);
    list.appendChild(pager);
    hits.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (row) { list.appendChild(card(run, row)); });
  }

  data.runs.forEach(function (run) {
    run.index = {};
    run.rows.forEach(function (row, pos) { run.index[row[0]] = pos; });
  });
  render();
  document.body.setAttribute("data-ready-ms", String(Math.round(performance.now() - started)));
})();
