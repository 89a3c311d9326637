// The rating page: renders the blinded items, keeps the rater's work in localStorage, exports a ratings file.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fteval-rating-data").textContent);
  var storeKey = "fteval-ratings-" + data.sheet;
  var state = { rater: "", ratings: {} };
  try {
    var saved = JSON.parse(window.localStorage.getItem(storeKey) || "null");
    if (saved && saved.ratings) { state = saved; }
  } catch (e) { /* a page opened where storage is off still works, without saving */ }

  function save() {
    try { window.localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* see above */ }
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  var total = 0;
  function rated() {
    return Object.keys(state.ratings).filter(function (k) { return state.ratings[k].rating !== null; }).length;
  }
  function showProgress() {
    document.getElementById("progress").textContent = rated() + " of " + total + " outputs rated";
  }

  function entry(id) {
    if (!state.ratings[id]) { state.ratings[id] = { rating: null, comment: "" }; }
    return state.ratings[id];
  }

  var root = document.getElementById("items");
  data.items.forEach(function (item) {
    var card = el("section", "item");
    card.id = "item-" + item.n;
    card.appendChild(el("h2", null, "Item " + item.n + " of " + data.items.length));
    if (item.system) {
      card.appendChild(el("div", "label", "System message"));
      card.appendChild(el("pre", "text", item.system));
    }
    card.appendChild(el("div", "label", "Input"));
    card.appendChild(el("pre", "text input", item.user));
    if (item.reference !== null) {
      card.appendChild(el("div", "label", "Reference"));
      card.appendChild(el("pre", "text reference", item.reference));
    }
    item.outputs.forEach(function (text, k) {
      var out = k + 1;
      var id = item.n + ":" + out;
      total += 1;
      var box = el("div", "output");
      box.appendChild(el("div", "label", item.outputs.length > 1 ? "Output " + out : "Output"));
      box.appendChild(el("pre", "text", text === "" ? "(empty output)" : text));
      var scale = el("div", "scale");
      scale.setAttribute("role", "radiogroup");
      for (var v = data.scale[0]; v <= data.scale[1]; v++) {
        var label = el("label", "choice");
        var radio = el("input");
        radio.type = "radio";
        radio.name = "r-" + id;
        radio.value = String(v);
        radio.setAttribute("data-item", String(item.n));
        radio.setAttribute("data-output", String(out));
        if (state.ratings[id] && state.ratings[id].rating === v) { radio.checked = true; }
        radio.addEventListener("change", function (ev) {
          entry(ev.target.name.slice(2)).rating = Number(ev.target.value);
          save();
          showProgress();
        });
        label.appendChild(radio);
        label.appendChild(document.createTextNode(" " + v));
        scale.appendChild(label);
      }
      box.appendChild(scale);
      var comment = el("input", "comment");
      comment.type = "text";
      comment.placeholder = "comment (optional)";
      comment.setAttribute("data-id", id);
      comment.value = state.ratings[id] ? state.ratings[id].comment : "";
      comment.addEventListener("input", function (ev) {
        entry(ev.target.getAttribute("data-id")).comment = ev.target.value;
        save();
      });
      box.appendChild(comment);
      card.appendChild(box);
    });
    root.appendChild(card);
  });

  var rater = document.getElementById("rater");
  rater.value = state.rater || "";
  rater.addEventListener("input", function () { state.rater = rater.value; save(); });

  function payload() {
    var list = [];
    Object.keys(state.ratings).forEach(function (id) {
      var r = state.ratings[id];
      if (r.rating === null) { return; }
      var parts = id.split(":");
      list.push({ item: Number(parts[0]), output: Number(parts[1]), rating: r.rating, comment: r.comment || "" });
    });
    list.sort(function (a, b) { return a.item - b.item || a.output - b.output; });
    return {
      fteval_ratings: 1, sheet: data.sheet, rater: state.rater.trim(), scale: data.scale,
      ratings: list, exported_at: new Date().toISOString()
    };
  }

  document.getElementById("export").addEventListener("click", function () {
    var message = document.getElementById("export-message");
    var body = payload();
    if (!body.rater) {
      message.textContent = "Enter your name first: ratings are stored per rater.";
      rater.focus();
      return;
    }
    var text = JSON.stringify(body, null, 1);
    document.getElementById("export-text").value = text;
    var name = "ratings-" + data.sheet + "-" + body.rater.replace(/[^A-Za-z0-9_.-]+/g, "_") + ".json";
    var link = el("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    link.download = name;
    document.body.appendChild(link);
    link.click();
    message.textContent = "Saved " + name + " (" + body.ratings.length + " ratings). Import it with: fteval rate import " + name;
  });

  showProgress();
  document.body.setAttribute("data-ready", "1");
})();
