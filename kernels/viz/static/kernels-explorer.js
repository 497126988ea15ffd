/* Static Explorer: switch between frames computed by `kernels` at build time.
 *
 * Each <div class="kx-explorer"> holds its controls, a plot area and a JSON payload
 * (see kernels/viz/_frames.py): a base figure, a pool of distinct values and, per grid point,
 * the trace count plus [path, poolIndex] edits (-1 deletes the key). No Python runs here.
 *
 * The figure's title is shown as HTML in the Explorer's <p class="kx-figure-title"> above the plot
 * (kxFrames.takeTitle / showTitle), and names the plot for screen readers.
 *
 * Dark mode: when the page defines window.kxTheme (kernels-theme.js), every figure goes through
 * kxTheme.apply(fig) just before Plotly.react, and the current frame is drawn again when the
 * page's theme changes (kxTheme.onChange).
 */
(function () {
  "use strict";
  // one frame = base + that frame's edits (kernels-frames.js, shared with the live widget)
  function buildFigure(payload, frameIndex) {
    return window.kxFrames.apply(payload.base, payload.pool,
                                 frameIndex < 0 ? undefined : payload.frames[frameIndex]);
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
    var title = root.querySelector(".kx-figure-title");
    window.kxFrames.keepTallest(title);
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
      var fig = buildFigure(payload, index);
      if (window.kxTheme) fig = window.kxTheme.apply(fig);
      var text = window.kxFrames.takeTitle(fig);
      // The config goes with the first draw only: given again, Plotly.react rebuilds the plot's
      // context, which looks for a <base> element through the whole page (9 ms per switch on a
      // long chapter) and compares the old and new config.
      var config = plot.data ? undefined : window.kxFrames.config;
      // Plotly.react returns a promise (labels with math are typeset asynchronously): keep it
      // so that tests and the benchmark can wait for the frame to be fully drawn.
      var drawn = Promise.resolve(window.Plotly.react(plot, fig.data, fig.layout, config));
      // The page's own text changes after plotly has drawn: plotly reads the plot's size first
      // thing, which lays out whatever changed on the page before it (a second layout of the
      // page per switch, 1.3 ms on the RoI page); written after, one layout in the frame does.
      // Only the moved control's readout changes: writing the others again (even the same
      // text) would lay out the page again too.
      if (window.kxFrames.showTitle(title, text)) {
        plot.setAttribute("aria-label", "interactive figure" + (text ? ": " + title.textContent : ""));
      }
      readouts.forEach(function (out, k) {
        var label = payload.controls[k].labels[Number(inputs[k].value)];
        if (out && out.textContent !== label) out.textContent = label;
      });
      root.kxDrawn = drawn.then(function () {
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
    if (!window.Plotly || !window.kxFrames) {
      console.error("kernels-explorer: " + (window.Plotly ? "kernels-frames.js" : "plotly.js") +
                    " is not loaded on this page");
      return;
    }
    document.querySelectorAll(".kx-explorer").forEach(init);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAll);
  else initAll();
})();
