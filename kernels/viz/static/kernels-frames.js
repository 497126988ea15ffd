/* One Explorer frame from the payload format of kernels/viz/_frames.py, for the static page
 * (kernels-explorer.js) and the live widget (kernels-live.js) alike:
 *
 *   window.kxFrames.apply(base, pool, frame) -> {data, layout}
 *   window.kxFrames.config: the plotly config both give a figure's first draw
 *
 * `frame` is [trace count, [[path, poolIndex], ...]]: each edit sets the value at `path` of a
 * copy of `base` to pool[poolIndex] (-1 deletes the key). Python's twin is _frames.apply_frame.
 * Loaded as a classic deferred script on the site, and prepended to the live widget's ES module
 * (no `export`; defined once however often it is loaded).
 */
if (!window.kxFrames) {
  window.kxFrames = (function () {
    "use strict";

    function clone(value) {
      return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
    }

    // plotly.js's default ticklabeloverflow ("hide past div") measures every tick label of an
    // axis once per label (quadratic: a tenth of a redraw on the RoI page) to hide labels that
    // stick out of the plot's div. No label of the book's figures does (checked over their
    // frames), so "allow" draws the same picture; a figure that sets the key keeps its choice.
    function allowTickLabelOverflow(layout) {
      if (!layout.xaxis) layout.xaxis = {};
      if (!layout.yaxis) layout.yaxis = {};
      Object.keys(layout).forEach(function (key) {
        if (/^[xy]axis\d*$/.test(key) && layout[key] && layout[key].ticklabeloverflow === undefined) {
          layout[key].ticklabeloverflow = "allow";
        }
      });
    }

    function apply(base, pool, frame) {
      var fig = clone(base) || {};
      var data = fig.data || [];
      frame = frame || [data.length, []];
      data.length = frame[0];
      fig.data = data;
      frame[1].forEach(function (edit) {
        var path = edit[0], node = fig;
        for (var i = 0; i < path.length - 1; i++) {
          if (node[path[i]] === undefined || node[path[i]] === null) node[path[i]] = {};
          node = node[path[i]];
        }
        var key = path[path.length - 1];
        if (edit[1] < 0) delete node[key]; else node[key] = clone(pool[edit[1]]);
      });
      for (var t = 0; t < fig.data.length; t++) if (!fig.data[t]) fig.data[t] = {};
      fig.layout = fig.layout || {};
      allowTickLabelOverflow(fig.layout);
      return fig;
    }

    var config = {responsive: true, displaylogo: false,
                  modeBarButtonsToRemove: ["select2d", "lasso2d"]};

    return {apply: apply, config: config};
  })();
}
