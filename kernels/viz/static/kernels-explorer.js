/* Static Explorer: switch between frames computed by `kernels` at build time.
 *
 * Each <div class="kx-explorer"> holds its controls, a plot area and a JSON payload
 * (see kernels/viz/_frames.py): a base figure, a pool of distinct values and, per grid point,
 * the trace count plus [path, poolIndex] edits (-1 deletes the key). No Python runs here.
 *
 * Dark mode: when the page defines window.kxTheme (kernels-theme.js), every figure goes through
 * kxTheme.apply(fig) just before Plotly.react, and the current frame is drawn again when the
 * page's theme changes (kxTheme.onChange).
 */
(function () {
  "use strict";
  var CONFIG = {responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"]};

  function clone(value) {
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }

  // plotly.js's default ticklabeloverflow ("hide past div") measures every tick label of an
  // axis once per label (quadratic: a tenth of a redraw on the RoI page) to hide labels that
  // stick out of the plot's div. No label of the book's figures does (checked over their
  // frames), so "allow" draws the same picture; a figure that sets the key keeps its choice.
  function allowTickLabelOverflow(layout) {
    if (!layout) return;
    if (!layout.xaxis) layout.xaxis = {};
    if (!layout.yaxis) layout.yaxis = {};
    Object.keys(layout).forEach(function (key) {
      if (/^[xy]axis\d*$/.test(key) && layout[key] && layout[key].ticklabeloverflow === undefined) {
        layout[key].ticklabeloverflow = "allow";
      }
    });
  }

  function buildFigure(payload, frameIndex) {
    var fig = clone(payload.base);
    var frame = payload.frames[frameIndex];
    var data = fig.data || [];
    data.length = frame[0];
    fig.data = data;
    frame[1].forEach(function (edit) {
      var path = edit[0], node = fig;
      for (var i = 0; i < path.length - 1; i++) {
        if (node[path[i]] === undefined || node[path[i]] === null) node[path[i]] = {};
        node = node[path[i]];
      }
      var key = path[path.length - 1];
      if (edit[1] < 0) delete node[key]; else node[key] = clone(payload.pool[edit[1]]);
    });
    for (var t = 0; t < fig.data.length; t++) if (!fig.data[t]) fig.data[t] = {};
    allowTickLabelOverflow(fig.layout);
    return fig;
  }

  function frameIndex(payload, inputs) {
    var index = 0;
    payload.controls.forEach(function (control, k) {
      index = index * control.labels.length + Number(inputs[k].value);
    });
    return index;
  }

  function init(root) {
    if (root.dataset.kxReady) return;
    root.dataset.kxReady = "1";
    var payload = JSON.parse(root.querySelector("script.kx-data").textContent);
    var plot = root.querySelector(".kx-plot");
    var inputs = payload.controls.map(function (c) {
      return root.querySelector('[data-param="' + c.name + '"]');
    });
    var readouts = inputs.map(function (input) {
      return input.parentNode.querySelector("output");
    });
    var current = -1;

    // force: draw the current frame again (the page's theme changed)
    function draw(force) {
      var t0 = performance.now();
      var index = payload.frames.length ? frameIndex(payload, inputs) : -1;
      if (index === current && plot.data && force !== true) return;
      current = index;
      var fig = index < 0 ? clone(payload.base) : buildFigure(payload, index);
      if (index < 0) allowTickLabelOverflow(fig.layout);
      if (window.kxTheme) fig = window.kxTheme.apply(fig);
      // Only the moved control's readout changes; writing the others again (even the same
      // text) would make the browser lay out the page again when plotly next measures a label.
      readouts.forEach(function (out, k) {
        var text = payload.controls[k].labels[Number(inputs[k].value)];
        if (out && out.textContent !== text) out.textContent = text;
      });
      // The config goes with the first draw only: given again, Plotly.react rebuilds the plot's
      // context, which looks for a <base> element through the whole page (9 ms per switch on a
      // long chapter) and compares the old and new config.
      var config = plot.data ? undefined : CONFIG;
      // Plotly.react returns a promise (labels with math are typeset asynchronously): keep it
      // so that tests and the benchmark can wait for the frame to be fully drawn.
      root.kxDrawn = Promise.resolve(window.Plotly.react(plot, fig.data, fig.layout, config))
        .then(function () {
          root.dataset.kxFrame = String(index);
          root.dataset.kxLastMs = (performance.now() - t0).toFixed(3);
        });
    }
    inputs.forEach(function (input) {
      input.addEventListener("input", draw);
      input.addEventListener("change", draw);
    });
    root.kxDraw = draw;  // lets tests and the benchmark drive a switch directly
    if (window.kxTheme && window.kxTheme.onChange) {
      window.kxTheme.onChange(function () { draw(true); });
    }
    draw();
  }

  function initAll() {
    if (!window.Plotly) {
      console.error("kernels-explorer: plotly.js is not loaded on this page");
      return;
    }
    document.querySelectorAll(".kx-explorer").forEach(init);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAll);
  else initAll();
})();
