/* Self-check questions ("predict, then check"), checked in the page: no server.
 *
 * Each <div class="kx-check" data-kx-spec='{"kind": ..., "answer": ...}'> was written by
 * kernels/viz/self_check.py at build time. The rule for "right" mirrors check() there, line for
 * line; tests/test_self_check.py runs both on the same table of inputs. window.kxSelfCheck
 * exposes the checker for that test.
 */
(function () {
  "use strict";
  if (window.kxSelfCheck) return;

  var RIGHT = "Right!";
  var EMPTY = "Type your answer first.";
  var NO_CHOICE = "Pick one of the answers first.";
  var BAD_NUMBER = "Type a number, e.g. 12, 0.5, 3/4 or 25%.";
  var BAD_SHAPE = "Type whole numbers separated by commas, spaces or \u00d7, e.g. (2, 64, 7, 7).";
  var PLAIN = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
  var THOUSANDS = /^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$/;
  var INT = /^[+-]?\d+$/;

  function plainNumber(s) {
    if (THOUSANDS.test(s)) s = s.replace(/,/g, "");
    return PLAIN.test(s) ? Number(s) : null;
  }

  function parseNumber(text) {
    var s = String(text).replace(/\s+/g, "").replace(/\u2212/g, "-").replace(/_/g, "");
    var scale = 1;
    if (s.slice(-1) === "%") { s = s.slice(0, -1); scale = 0.01; }
    var parts = s.split("/");
    if (parts.length === 1) {
      var x = plainNumber(s);
      return x === null ? null : x * scale;
    }
    if (parts.length !== 2) return null;
    var top = plainNumber(parts[0]), bottom = plainNumber(parts[1]);
    if (top === null || bottom === null || bottom === 0) return null;
    return top / bottom * scale;
  }

  function parseShape(text) {
    var s = String(text).replace(/torch\.size/gi, " ").replace(/\u2212/g, "-");
    s = s.replace(/[()\[\]{}]/g, " ");
    var tokens = s.split(/[\s,\u00d7xX*]+/).filter(function (t) { return t; });
    if (!tokens.length || !tokens.every(function (t) { return INT.test(t); })) return null;
    return tokens.map(function (t) { return parseInt(t, 10); });
  }

  function verdict(state, message) { return {state: state, message: message}; }

  function check(spec, given) {
    if (spec.kind === "choice") {
      if (given === null || given === undefined || !INT.test(String(given))) {
        return verdict("invalid", NO_CHOICE);
      }
      return parseInt(given, 10) === spec.answer ? verdict("right", RIGHT)
                                                  : verdict("wrong", "Not quite.");
    }
    if (!String(given).trim()) return verdict("invalid", EMPTY);
    if (spec.kind === "number") {
      var x = parseNumber(given);
      if (x === null) return verdict("invalid", BAD_NUMBER);
      var a = spec.answer;
      var bound = spec.tol + spec.rel_tol * Math.abs(a);
      // the slack keeps a typed boundary value in: 0.26 - 0.25 is 0.010000000000000009
      if (Math.abs(x - a) <= bound * (1 + 1e-9)) return verdict("right", RIGHT);
      return verdict("wrong", "Not quite: " + (x > a ? "too big" : "too small") + ".");
    }
    var values = parseShape(given);
    if (values === null) return verdict("invalid", BAD_SHAPE);
    var n = spec.answer.length, m = values.length;
    if (n === m && values.every(function (v, i) { return v === spec.answer[i]; })) {
      return verdict("right", RIGHT);
    }
    if (n !== m) {
      return verdict("wrong", "Not quite: the answer has " + n + " numbers, you gave " + m + ".");
    }
    return verdict("wrong", "Not quite.");
  }

  function init(root) {
    if (root.dataset.kxReady) return;
    root.dataset.kxReady = "1";
    var spec = JSON.parse(root.dataset.kxSpec);
    var input = root.querySelector(".kx-check-input");
    var feedback = root.querySelector(".kx-check-feedback");

    function given() {
      if (spec.kind !== "choice") return input.value;
      var picked = root.querySelector("input[type=radio]:checked");
      return picked ? picked.value : null;
    }

    function run() {
      var v = check(spec, given());
      root.classList.remove("kx-right", "kx-wrong", "kx-invalid");
      root.classList.add("kx-" + v.state);
      root.dataset.kxState = v.state;
      feedback.textContent = v.message;
      if (input) input.setAttribute("aria-invalid", v.state === "right" ? "false" : "true");
    }

    root.querySelector(".kx-check-button").addEventListener("click", run);
    root.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.tagName === "INPUT") {
        event.preventDefault();
        run();
      }
    });
    // a new answer clears the old verdict, so "Right!" never stands beside a changed answer
    root.addEventListener("input", function () {
      root.classList.remove("kx-right", "kx-wrong", "kx-invalid");
      delete root.dataset.kxState;
      feedback.textContent = "";
      if (input) input.removeAttribute("aria-invalid");
    });
  }

  function initAll() {
    document.querySelectorAll("div.kx-check[data-kx-spec]").forEach(init);
  }

  window.kxSelfCheck = {parseNumber: parseNumber, parseShape: parseShape, check: check,
                        init: initAll};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAll);
  else initAll();
})();
