// Runs first: every script error or console.error lands in #report-errors,
// so a headless browser's --dump-dom shows whether the page rendered cleanly.
(function () {
  var pending = [];
  function flush() {
    var box = document.getElementById("report-errors");
    if (!box) return;
    while (pending.length) box.textContent += pending.shift() + "\n";
  }
  function record(text) {
    pending.push(String(text));
    flush();
  }
  window.__reportError = record;
  window.addEventListener("error", function (e) {
    record("error: " + (e.message || e.type) + (e.filename ? " at " + e.filename + ":" + e.lineno : ""));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { record("unhandled rejection: " + e.reason); });
  document.addEventListener("securitypolicyviolation", function (e) {
    record("blocked by content security policy: " + e.violatedDirective + " " + (e.blockedURI || ""));
  });
  var original = console.error;
  console.error = function () {
    record("console.error: " + Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
  document.addEventListener("DOMContentLoaded", flush);
})();
