/* One Explorer frame from the payload format of kernels/viz/_frames.py, for the static page
 * (kernels-explorer.js) and the live widget (kernels-live.js) alike:
 *
 *   window.kxFrames.apply(base, pool, frame) -> {data, layout}
 *   window.kxFrames.config: the plotly config both give a figure's first draw
 *   window.kxFrames.takeTitle(fig) -> the figure's title text, taken out of its layout
 *   window.kxFrames.showTitle(el, text): that title as HTML in `el`, above the plot (true if
 *     it changed)
 *   window.kxFrames.keepTallest(el): `el` never shrinks while its width stays the same
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

    // A figure's title is drawn by the page as HTML above the plot, not by plotly. HTML wraps to
    // the width there is (plotly writes one unwrapped line per <br>: at desktop width the titles
    // of four Explorers ran past both edges of their figure, on a phone nearly all), and plotly
    // no longer lays out the title's lines on every frame switch. The figures keep their
    // title in Python (layout.title.text, plotly's markup); it is taken out before drawing.
    // The title left to plotly is an explicit empty one: without a text plotly takes its
    // placeholder ("Click to enter Plot title"), and with the template's title.automargin it
    // would measure that hidden placeholder on every draw (a forced layout of the whole page).
    function takeTitle(fig) {
      fig.layout = fig.layout || {};
      var title = fig.layout.title;
      var text = title && (typeof title === "string" ? title : title.text);
      fig.layout.title = {text: "", automargin: false};
      return text ? String(text) : "";
    }

    // plotly's title markup -> DOM nodes, never innerHTML: <br> breaks a line, <sup> (the book's
    // subtitle lines) is smaller text on the line, <sub>, <b>, <i>, <em> are themselves; any
    // other tag and the entities plotly decodes stay text.
    var TAG = /<(\/?)(br|sup|sub|b|i|em)\s*\/?>/gi;
    var ENTITY = /&(amp|lt|gt|quot|#\d+|#x[0-9a-f]+);/gi;
    var NAMED = {amp: "&", lt: "<", gt: ">", quot: '"'};
    function decode(text) {
      return text.replace(ENTITY, function (all, name) {
        var key = name.toLowerCase();
        if (NAMED[key]) return NAMED[key];
        var code = key[1] === "x" ? parseInt(key.slice(2), 16) : parseInt(key.slice(1), 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
      });
    }

    function showTitle(el, text) {
      if (el.kxTitle === text) return false;  // the same title: the page is not laid out again
      el.kxTitle = text;
      el.textContent = "";
      var open = [el], last = 0, match;
      function addText(part) {
        if (part) open[open.length - 1].appendChild(document.createTextNode(decode(part)));
      }
      TAG.lastIndex = 0;
      while ((match = TAG.exec(text)) !== null) {
        addText(text.slice(last, match.index));
        last = TAG.lastIndex;
        var name = match[2].toLowerCase();
        if (name === "br") {
          open[open.length - 1].appendChild(document.createElement("br"));
        } else if (match[1]) {
          if (open.length > 1 && open[open.length - 1].kxTag === name) open.pop();
        } else {
          var node = document.createElement(name === "sup" ? "span" : name);
          if (name === "sup") node.className = "kx-figure-subtitle";
          node.kxTag = name;
          open[open.length - 1].appendChild(node);
          open.push(node);
        }
      }
      addText(text.slice(last));
      el.hidden = !text;
      return true;
    }

    // A title that wraps to one line more on some frames would move the plot (and the page
    // under it) up and down while a slider moves: the title's box keeps the tallest height it
    // had at its width (a ResizeObserver reads it after layout, so no switch waits for it).
    function keepTallest(el) {
      if (!window.ResizeObserver || el.kxTallest !== undefined) return;
      el.kxTallest = 0;
      var width = -1;
      new ResizeObserver(function () {
        if (el.offsetWidth !== width) {  // a new width: heights seen at the old one do not count
          width = el.offsetWidth;
          el.kxTallest = 0;
          el.style.minHeight = "";
        }
        if (el.offsetHeight > el.kxTallest) {
          el.kxTallest = el.offsetHeight;
          el.style.minHeight = el.kxTallest + "px";
        }
      }).observe(el);
    }

    var config = {responsive: true, displaylogo: false,
                  modeBarButtonsToRemove: ["select2d", "lasso2d"]};

    return {apply: apply, config: config, takeTitle: takeTitle, showTitle: showTitle,
            keepTallest: keepTallest};
  })();
}
