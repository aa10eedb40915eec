// Renders the timeline and the conversation from the JSON in #session-data.
// All recorded content goes in through textContent, never as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("session-data").textContent);
  var CLIP = 4000; // characters of a message shown before "show all"

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmtDur(ms) {
    if (ms === null || ms === undefined) return "";
    if (ms < 1) return ms.toFixed(2) + " ms";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(2) + " s";
    var m = Math.floor(ms / 60000), s = Math.round((ms % 60000) / 1000);
    if (m < 60) return m + "m " + (s < 10 ? "0" : "") + s + "s";
    return Math.floor(m / 60) + "h " + (m % 60 < 10 ? "0" : "") + (m % 60) + "m";
  }

  // A list that renders in batches: first `batch` items, then more on demand
  // or when its end scrolls into view, so 10,000 events stay fast.
  function Paged(container, render, batch, noun) {
    this.container = container; this.render = render; this.batch = batch; this.noun = noun;
    this.items = []; this.shown = 0;
    this.pager = el("div", "pager");
    this.status = el("span");
    this.moreButton = el("button", null, "Show more");
    this.allButton = el("button", null, "Show all");
    this.pager.append(this.status, this.moreButton, this.allButton);
    container.after(this.pager);
    var self = this;
    this.moreButton.addEventListener("click", function () { self.grow(self.batch); });
    this.allButton.addEventListener("click", function () { self.grow(self.items.length); });
    if ("IntersectionObserver" in window) {
      new IntersectionObserver(function (seen) {
        if (seen[0].isIntersecting && self.shown > 0 && self.shown < self.items.length) self.grow(self.batch);
      }, { rootMargin: "400px" }).observe(this.pager);
    }
  }
  Paged.prototype.reset = function (items) {
    this.items = items; this.shown = 0;
    this.container.textContent = "";
    this.grow(this.batch);
  };
  Paged.prototype.grow = function (count) {
    var end = Math.min(this.items.length, this.shown + count);
    var frag = document.createDocumentFragment();
    for (var i = this.shown; i < end; i++) frag.append(this.render(this.items[i]));
    this.container.append(frag);
    this.shown = end;
    var rest = this.items.length - this.shown;
    this.status.textContent = this.items.length
      ? "Showing " + this.shown.toLocaleString() + " of " + this.items.length.toLocaleString() + " " + this.noun
      : "";
    this.moreButton.hidden = this.allButton.hidden = rest <= 0;
    this.pager.hidden = this.items.length <= this.batch;
  };
  Paged.prototype.reveal = function (item) {
    var at = this.items.indexOf(item);
    if (at >= this.shown) this.grow(at - this.shown + 1);
    return at >= 0;
  };

  // -- timeline ---------------------------------------------------------
  function renderTimeline() {
    var box = document.getElementById("waterfall");
    box.textContent = "";
    if (!data.timeline.length) {
      box.append(el("p", "empty", "No runs, LLM calls or tool calls recorded."));
      return;
    }
    var span = data.span_ms > 0 ? data.span_ms : 1;
    var axis = el("div", "wf-axis");
    var ticks = el("div", "wf-ticks");
    [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
      var t = el("span", null, f === 0 ? "0" : fmtDur(span * f));
      t.style.left = f * 100 + "%";
      ticks.append(t);
    });
    axis.append(el("div", null, "started " + data.started_at), ticks, el("div", "wf-dur", "duration"));
    box.append(axis);
    var rows = el("div", "wf-rows");
    box.append(rows);
    var paged = new Paged(rows, function (row) {
      var line = el("div", "wf-row " + row.kind + " " + row.status);
      line.title = row.label + (row.detail ? " — " + row.detail : "");
      var name = el("div", "wf-name");
      name.style.paddingLeft = Math.min(row.depth, 12) * 16 + "px";
      name.append(el("span", "kind " + row.kind, row.kind === "llm" ? "LLM" : row.kind), el("span", "txt", row.label));
      if (row.detail) name.append(el("span", "detail", row.detail));
      var track = el("div", "wf-track");
      var bar = el("div", "bar " + row.kind + " " + row.status);
      bar.style.left = (row.start_ms / span) * 100 + "%";
      if (row.duration_ms === null && row.kind === "run") {
        bar.className += " open";
        bar.style.width = Math.max(0, 100 - (row.start_ms / span) * 100) + "%";
      } else if (row.duration_ms === null) {
        bar.className += " instant";
      } else {
        bar.style.width = Math.max((row.duration_ms / span) * 100, 0.25) + "%";
      }
      track.append(bar);
      var dur = row.duration_ms === null ? (row.kind === "run" ? row.status : "") : fmtDur(row.duration_ms);
      line.append(name, track, el("div", "wf-dur", dur));
      if (row.entry !== null) line.addEventListener("click", function () { goTo(row.entry); });
      return line;
    }, 400, "timeline rows");
    paged.reset(data.timeline);
  }

  // -- conversation -----------------------------------------------------
  var list = document.getElementById("messages");
  var openAll = document.getElementById("fold");

  function clipped(text, cls) {
    var body = el("div", cls);
    if (text.length <= CLIP) { body.textContent = text; return body; }
    body.textContent = text.slice(0, CLIP) + "…";
    var more = el("button", "more", "show all " + text.length.toLocaleString() + " characters");
    more.addEventListener("click", function () { body.textContent = text; });
    var wrap = el("div");
    wrap.append(body, more);
    return wrap;
  }

  function clip(text) {
    return text.length > CLIP ? text.slice(0, CLIP) + "… (" + text.length.toLocaleString() + " characters)" : text;
  }

  function renderCall(call) {
    var box = el("details", "call");
    box.open = openAll.checked;
    var head = el("summary");
    var state = call.pending ? "pending" : call.error !== null ? "error" : "ok";
    head.append(el("span", "name", call.name), el("span", "args", call.args_line));
    if (call.duration_ms !== null) head.append(el("span", "dur", fmtDur(call.duration_ms)));
    head.append(el("span", "pill " + state, call.pending ? "no result" : state));
    box.append(head);
    var body = el("div", "body");
    body.append(el("h4", null, "Arguments"), el("pre", null, clip(call.args)));
    if (call.error !== null) body.append(el("h4", null, "Error"), el("pre", "err", clip(call.error)));
    if (!call.pending && (call.result !== "" || call.error === null)) {
      body.append(el("h4", null, "Result"), el("pre", null, clip(call.result)));
    }
    if (call.call_id) body.append(el("h4", null, "Call id " + call.call_id));
    box.append(body);
    return box;
  }

  function renderEntry(entry) {
    var item = el("li", "msg " + entry.role);
    item.id = "e-" + entry.index;
    var head = el("div", "msg-head");
    head.append(el("span", "role", entry.role));
    if (entry.type !== "message") head.append(el("span", "type", entry.type));
    if (entry.run) head.append(el("span", "run-name", entry.run));
    head.append(el("time", null, entry.at + "  (+" + fmtDur(entry.offset_ms) + ")"));
    if (entry.usage) head.append(el("span", "usage", entry.usage));
    item.append(head);
    if (entry.text) item.append(clipped(entry.text, "msg-body" + (entry.json ? " json" : "")));
    if (entry.failure) item.append(el("div", "msg-failure", entry.failure));
    if (entry.retry) item.append(el("div", "msg-retry", entry.retry));
    if (entry.details) {
      var more = el("details", "msg-details");
      more.append(el("summary", null, "details"), el("pre", null, clip(entry.details)));
      item.append(more);
    }
    entry.calls.forEach(function (call) { item.append(renderCall(call)); });
    return item;
  }

  var conversation = new Paged(list, renderEntry, 150, "messages");
  var haystacks = null;
  function applyFilter() {
    var needle = document.getElementById("filter").value.trim().toLowerCase();
    if (!needle) { conversation.reset(data.entries); return; }
    if (!haystacks) {
      haystacks = data.entries.map(function (e) {
        return (e.role + " " + e.run + " " + e.text + " " + e.calls.map(function (c) {
          return c.name + " " + c.args + " " + c.result + " " + (c.error || "");
        }).join(" ")).toLowerCase();
      });
    }
    conversation.reset(data.entries.filter(function (_, i) { return haystacks[i].indexOf(needle) >= 0; }));
    if (!conversation.items.length) list.append(el("li", "empty", "No message matches."));
  }

  function goTo(index) {
    var entry = data.entries[index];
    if (!entry) return;
    if (!conversation.reveal(entry)) {
      document.getElementById("filter").value = "";
      conversation.reset(data.entries);
      conversation.reveal(entry);
    }
    var node = document.getElementById("e-" + index);
    if (!node) return;
    node.scrollIntoView({ behavior: "smooth", block: "center" });
    node.classList.add("flash");
    setTimeout(function () { node.classList.remove("flash"); }, 1600);
  }

  renderTimeline();
  if (data.entries.length) {
    conversation.reset(data.entries);
  } else {
    list.textContent = "";
    list.append(el("li", "empty", "No events recorded."));
  }
  var timer = null;
  document.getElementById("filter").addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(applyFilter, 150);
  });
  openAll.addEventListener("change", function () {
    list.querySelectorAll("details.call").forEach(function (d) { d.open = openAll.checked; });
  });
  document.documentElement.setAttribute("data-report", "ready");
})();
