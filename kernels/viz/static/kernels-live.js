/* Live Explorer figure (anywidget ES module; its Python side is kernels/viz/_live.py).
 *
 * The model holds `base` (plotly JSON) and `patch` ({frame: [ntraces, [[path, poolIndex]]],
 * pool}: the static page's frame format, -1 deletes a key). Each change of `rev` redraws the
 * figure base + patch with Plotly.react, in place.
 *
 * plotly.js comes from the kernel once per page: the first figure that needs it sends
 * {type: "plotly.js?", page}; the kernel answers one request per page with the library as a
 * binary buffer; it is evaluated once and kept on window, shared by every figure of the page.
 * A figure restored from a saved notebook has no kernel behind it: it draws its last state
 * when plotly.js is in the page, and otherwise shows a one-line note.
 */
var KX_NOTE = "Interactive figure: run the cell to bring the sliders and the figure back.";

function kxLibrary() {
  if (!window.kxPlotlyLibrary) {
    var lib = {page: Math.random().toString(36).slice(2) + Date.now().toString(36)};
    lib.ready = new Promise(function (resolve) { lib.resolve = resolve; });
    if (window.Plotly) lib.resolve(window.Plotly);
    window.kxPlotlyLibrary = lib;
  }
  return window.kxPlotlyLibrary;
}

function kxEvaluate(buffer) {
  var view = buffer instanceof DataView ? buffer : new DataView(buffer.buffer || buffer);
  var source = new TextDecoder().decode(view);
  // plotly.min.js is a UMD bundle: given a `module`, it exports Plotly there (no global, no
  // AMD loader of the page is involved).
  var module = {exports: {}};
  new Function("module", "exports", "define", source)(module, module.exports, undefined);
  window.kxPlotlyEvaluations = (window.kxPlotlyEvaluations || 0) + 1;
  return module.exports;
}

function initialize({ model }) {
  var lib = kxLibrary();
  function onMessage(msg, buffers) {
    if (!msg || msg.type !== "plotly.js" || !buffers || !buffers.length) return;
    if (!window.Plotly) window.Plotly = kxEvaluate(buffers[0]);
    lib.resolve(window.Plotly);
  }
  model.on("msg:custom", onMessage);
  if (!window.Plotly) model.send({type: "plotly.js?", page: lib.page});
  return function () { model.off("msg:custom", onMessage); };
}

function render({ model, el }) {
  var lib = kxLibrary();
  var plot = document.createElement("div");
  plot.className = "kx-live-plot";
  var title = document.createElement("p");  // the figure's title, as HTML (kernels-frames.js)
  title.className = "kx-figure-title";
  title.hidden = true;
  el.classList.add("kx-live");
  el.appendChild(title);
  el.appendChild(plot);
  window.kxFrames.keepTallest(title);
  var note = null;
  var noteTimer = setTimeout(function () {  // still no plotly.js: no kernel answers
    note = document.createElement("p");
    note.className = "kx-reopen-note";
    note.innerHTML = "<em></em>";
    note.firstChild.textContent = KX_NOTE;
    el.insertBefore(note, title);
  }, 1500);
  var busy = false, again = false, alive = true;

  function draw() {
    if (!alive) return;
    if (busy) { again = true; return; }
    busy = true;
    var Plotly = window.Plotly;
    var patch = model.get("patch") || {};  // base + patch: kernels-frames.js, as on the site
    var fig = window.kxFrames.apply(model.get("base"), patch.pool || [], patch.frame);
    fig = window.kxTheme ? window.kxTheme.apply(fig) : fig;
    var text = window.kxFrames.takeTitle(fig);
    var t0 = performance.now();
    // The config goes with the first draw only (given again, Plotly.react rebuilds the plot's
    // context: see kernels-explorer.js).
    var config = plot.data ? undefined : window.kxFrames.config;
    var drawn = Promise.resolve(Plotly.react(plot, fig.data, fig.layout, config));
    window.kxFrames.showTitle(title, text);  // after plotly's draw, as on the site
    drawn
      .then(function () {
        el.dataset.kxLastMs = (performance.now() - t0).toFixed(3);
        el.dataset.kxRev = String(model.get("rev"));
      }, function (err) { console.error("kernels-live:", err); })
      .then(function () {
        busy = false;
        if (again) { again = false; draw(); }
      });
  }

  lib.ready.then(function () {
    clearTimeout(noteTimer);
    if (note) { note.remove(); note = null; }
    draw();
  });
  function onChange() { if (window.Plotly) draw(); }
  model.on("change:rev", onChange);
  if (window.kxTheme) window.kxTheme.onChange(onChange);
  return function () {
    alive = false;
    clearTimeout(noteTimer);
    model.off("change:rev", onChange);
    if (window.Plotly && plot.data) window.Plotly.purge(plot);
  };
}

export default { initialize, render };
