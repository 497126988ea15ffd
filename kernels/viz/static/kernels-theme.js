/* Dark mode for the book's figures: window.kxTheme = {isDark(), apply(fig), onChange(cb)}.
 *
 * The figures are designed once, for white paper (kernels/viz/theme.py). Under a dark page
 * theme, apply(fig) maps that design to a dark one, colour by colour, keeping every contrast
 * the light design has against its paper. WCAG contrast between colours of luminance Y1 > Y2
 * is (Y1 + .05) / (Y2 + .05); a light colour of luminance Y sits on white (Y = 1) at
 * c = 1.05 / (Y + .05), and its dark "mirror" Y' = c (B + .05) - .05 sits on the dark
 * background B at the same c. The mirror also keeps the contrast between any two mirrored
 * colours (both sides scale by the same factor), so a grey ramp or a white-to-blue colour
 * scale keeps every step it had, only upside down: what faded into the paper fades into the
 * dark page, what stood out still stands out.
 *
 * Which colours are mirrored:
 * - greys (white paper, #222 text, #eee grid, #999 guide lines, black outlines); the light
 *   text colour becomes the page's own text colour;
 * - colour scales that fade into the paper (a ramp holding a pale, near-grey stop: Blues,
 *   Oranges, Greys, RdBu, white-to-blue): every stop of the ramp, hue kept (a ramp down to
 *   black has its steps shrunk evenly, or its black end would become a glaring white);
 * - the hues of a stepped colour scale (categories, or a sampled RdYlBu) stay, but a light
 *   one that fills cells is toned down (pale yellow would glare);
 * - not the palette's hues (Okabe-Ito blue, orange, ...): a reader matches them to the prose
 *   ("holes in orange"), so they stay, lightened only where they would fall below the contrast
 *   they had on white (or 3:1).
 * Labels drawn on a marker (a scatter's text at "middle center") get, per point, whichever of
 * the two text colours contrasts more with the marker; heatmap labels need nothing: plotly
 * picks their colour per cell from the cell's (mapped) colour.
 *
 * apply() copies on write: objects on the way to a changed colour are copied, everything else
 * (data arrays: x, y, z, text) is shared with the caller's figure, untouched. In light mode it
 * returns the very object it was given. Mapped colours are cached per theme, so a frame switch
 * costs one walk over the figure's objects (~0.1 ms for the book's figures).
 *
 * Theme: the site's pydata-sphinx-theme sets <html data-theme="dark|light">; JupyterLab sets
 * <body data-jp-theme-light="false"> for a dark theme. This file runs as a classic deferred
 * script on the site and prepended to the live widget's ES module: no export, defined once.
 */
(function () {
  "use strict";
  if (typeof window === "undefined" || window.kxTheme) return;

  var LIGHT_TEXT = "#222";  // kernels/viz/theme.py's font colour, when a figure does not say
  var FALLBACK = {site: ["#14181e", "#ced6dd"], lab: ["#111111", "#e0e0e0"]};  // bg, text
  var CAP = 0.9;        // mirrored greys stay below this luminance (pure white glares)
  var MIN_CONTRAST = 3; // a hue below this on the dark page is lightened (WCAG for graphics)
  var ACHROMATIC = 0.12, PALE = 0.25, PALE_Y = 0.6;  // chroma of a grey, of a pale tint
  var KNEE = 0.35, TOP = 0.55;  // a light hue filling heatmap cells is toned down above KNEE
  var RAMP_TOP = 0.78;  // and a mirrored ramp's brightest end (black would become white)

  function inLab() {
    return !!(document.body && document.body.dataset.jpThemeLight !== undefined);
  }

  function isDark() {
    if (inLab()) return document.body.dataset.jpThemeLight === "false";
    var theme = document.documentElement.dataset.theme;
    // "auto" until the theme's script resolves it from the system setting (a first draw may
    // come before): resolve it the same way
    if (theme === "auto") return !!(window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches);
    return theme === "dark";
  }

  // ---- colours ------------------------------------------------------------------------------

  var probe = null;
  function parse(str) {  // -> [r, g, b, a] (0..255, alpha 0..1) or null
    var s = String(str).trim().toLowerCase(), m;
    if (s[0] === "#") {
      var h = s.slice(1);
      if (h.length === 3 || h.length === 4) h = h.replace(/./g, "$&$&");
      if (!/^[0-9a-f]{6}([0-9a-f]{2})?$/.test(h)) return null;
      return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16),
              h.length === 8 ? parseInt(h.slice(6, 8), 16) / 255 : 1];
    }
    if ((m = /^rgba?\(([^)]*)\)$/.exec(s))) {
      var p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
      if (p.length < 3 || p.some(isNaN)) return null;
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    if (s === "transparent") return [0, 0, 0, 0];
    if (!/^[a-z]+$/.test(s)) return null;  // hsl(), gradients...: left as they are
    if (!probe) probe = document.createElement("canvas").getContext("2d");
    probe.fillStyle = "#010203";
    probe.fillStyle = s;  // a CSS colour name comes back as #rrggbb; an unknown one is ignored
    return probe.fillStyle === "#010203" ? null : parse(probe.fillStyle);
  }

  function toLinear(c) { c /= 255; return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); }
  function toByte(v) {
    v = Math.min(1, Math.max(0, v));
    return Math.round(255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055));
  }
  function linear(rgba) { return [toLinear(rgba[0]), toLinear(rgba[1]), toLinear(rgba[2])]; }
  function luminance(lin) { return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]; }
  function chroma(rgba) {
    return (Math.max(rgba[0], rgba[1], rgba[2]) - Math.min(rgba[0], rgba[1], rgba[2])) / 255;
  }
  function contrast(y1, y2) { return (Math.max(y1, y2) + 0.05) / (Math.min(y1, y2) + 0.05); }
  function format(lin, alpha) {
    var r = toByte(lin[0]), g = toByte(lin[1]), b = toByte(lin[2]);
    if (alpha < 1) return "rgba(" + r + "," + g + "," + b + "," + +alpha.toFixed(3) + ")";
    return "#" + ((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1);
  }

  // A linear colour moved to luminance y: darker by scaling (the hue stays exactly), lighter
  // by raising its HSL lightness, saturation kept (mixing with white would wash it to grey).
  function withLuminance(lin, y) {
    var y0 = luminance(lin);
    if (y <= y0) return y0 > 0 ? lin.map(function (v) { return v * y / y0; }) : [y, y, y];
    var hsl = toHsl(lin.map(function (v) { return toByte(v) / 255; })), lo = hsl[2], hi = 1;
    for (var i = 0; i < 24; i++) {  // luminance rises with HSL lightness: bisect
      var mid = (lo + hi) / 2;
      if (luminance(fromHsl(hsl[0], hsl[1], mid)) < y) lo = mid; else hi = mid;
    }
    return fromHsl(hsl[0], hsl[1], hi);
  }
  function toHsl(c) {  // sRGB 0..1 -> [hue 0..6, saturation, lightness]
    var max = Math.max(c[0], c[1], c[2]), min = Math.min(c[0], c[1], c[2]), l = (max + min) / 2;
    var d = max - min, h = 0;
    if (d > 0) {
      if (max === c[0]) h = ((c[1] - c[2]) / d + 6) % 6;
      else if (max === c[1]) h = (c[2] - c[0]) / d + 2;
      else h = (c[0] - c[1]) / d + 4;
    }
    return [h, d === 0 ? 0 : d / (1 - Math.abs(2 * l - 1)), l];
  }
  function fromHsl(h, s, l) {  // -> linear RGB
    var c = (1 - Math.abs(2 * l - 1)) * s, x = c * (1 - Math.abs(h % 2 - 1)), m = l - c / 2;
    var rgb = [[c, x, 0], [x, c, 0], [0, c, x], [0, x, c], [x, 0, c], [c, 0, x]][Math.floor(h) % 6];
    return rgb.map(function (v) { return toLinear(255 * (v + m)); });
  }

  // ---- the dark palette: the page's own background and text colour ------------------------

  var palette = null;  // cleared when the theme changes
  function readPalette() {
    var lab = inLab(), style = getComputedStyle(lab ? document.body : document.documentElement);
    var names = lab ? ["--jp-layout-color0", "--jp-content-font-color1"]
                    : ["--pst-color-background", "--pst-color-text-base"];
    var fixed = FALLBACK[lab ? "lab" : "site"];
    var bg = parse(style.getPropertyValue(names[0])) || parse(fixed[0]);
    var text = parse(style.getPropertyValue(names[1])) || parse(fixed[1]);
    if (bg[3] < 1 || luminance(linear(bg)) > 0.2) bg = parse(fixed[0]);  // a light or see-through value
    var bgLin = linear(bg), a = text[3];  // JupyterLab's text is white at some opacity
    var textLin = linear(text).map(function (v, i) { return a * v + (1 - a) * bgLin[i]; });
    return {bg: format(bgLin, 1), bgLin: bgLin, bgY: luminance(bgLin),
            text: format(textLin, 1), cache: {}, rampCache: {}};
  }

  // The dark mirror of a colour (see the top of the file): same contrast with the dark page as
  // the light colour had with white.
  function mirrorY(y, pal) { return 1.05 * (pal.bgY + 0.05) / (y + 0.05) - 0.05; }

  function mirrorGrey(rgba, pal) {  // a grey between the page's background and white
    var y = Math.min(CAP, Math.max(pal.bgY, mirrorY(luminance(linear(rgba)), pal)));
    var t = (y - pal.bgY) / (1 - pal.bgY);
    return format(pal.bgLin.map(function (v) { return v + t * (1 - v); }), rgba[3]);
  }

  function mapColor(str, pal, lightText) {
    var key = lightText + "|" + str;
    if (key in pal.cache) return pal.cache[key];
    var rgba = parse(str), out = str;
    if (rgba && rgba[3] > 0) {
      if (lightText !== null && str.replace(/\s/g, "").toLowerCase() === lightText) out = pal.text;
      else if (chroma(rgba) < ACHROMATIC) out = mirrorGrey(rgba, pal);
      else if (rgba[3] === 1) {  // a hue: kept, unless it sinks into the dark page
        var lin = linear(rgba), y = luminance(lin);
        var need = Math.min(MIN_CONTRAST, contrast(y, 1));
        if (contrast(y, pal.bgY) < need) out = format(withLuminance(lin, need * (pal.bgY + 0.05) - 0.05), 1);
      }
    }
    return (pal.cache[key] = out);
  }

  // A colour scale [[position, colour], ...]: split into segments at steps (a position given
  // twice); a segment that ramps through a pale near-grey colour is mirrored stop by stop, hue
  // kept; the constant segments (categories) are mapped like any colour.
  function mapScale(scale, pal) {
    if (!scale.length || !Array.isArray(scale[0])) return scale;
    var key = JSON.stringify(scale);
    if (key in pal.rampCache) return pal.rampCache[key];
    var out = [], start = 0;
    for (var i = 1; i <= scale.length; i++) {
      if (i < scale.length && scale[i][0] !== scale[i - 1][0]) continue;
      var seg = scale.slice(start, i), parsed = seg.map(function (s) { return parse(s[1]); });
      var distinct = new Set(seg.map(function (s) { return String(s[1]); })).size;
      var ramp = distinct > 1 && parsed.every(Boolean) && parsed.some(function (c) {
        return chroma(c) <= PALE && luminance(linear(c)) >= PALE_Y;
      });
      // contrast with the paper, per stop; a ramp reaching black would mirror to a glaring
      // white: all its contrasts are then raised to one power below 1, so the steps shrink
      // evenly and its brightest stop lands on RAMP_TOP
      var k0 = pal.bgY + 0.05, c = parsed.map(function (p) { return 1.05 / (luminance(linear(p)) + 0.05); });
      var gamma = ramp ? Math.min(1, Math.log((RAMP_TOP + 0.05) / k0) / Math.log(Math.max.apply(null, c))) : 1;
      seg.forEach(function (s, k) {
        var colour = ramp ? format(withLuminance(linear(parsed[k]), Math.pow(c[k], gamma) * k0 - 0.05), parsed[k][3])
                          : toneDown(mapColor(String(s[1]), pal, null));
        out.push([s[0], colour]);
      });
      start = i;
    }
    return (pal.rampCache[key] = out);
  }

  // A hue that fills cells (a step of a colour scale: pale yellow in the middle of RdYlBu)
  // would glare on a dark page where a thin line of it would not: its luminance above KNEE is
  // compressed into KNEE..TOP, which keeps the order of the steps, and the hue.
  function toneDown(str) {
    var rgba = parse(str);
    if (!rgba || chroma(rgba) < ACHROMATIC) return str;
    var lin = linear(rgba), y = luminance(lin);
    return y <= KNEE ? str : format(withLuminance(lin, compress(y, KNEE, TOP)), rgba[3]);
  }
  // luminance y (up to 1) with the part above knee squeezed into knee..top: order kept
  function compress(y, knee, top) {
    y = Math.min(1, y);
    return y <= knee ? y : knee + (y - knee) * (top - knee) / (1 - knee);
  }

  // ---- the walk over a figure (copy on write) ---------------------------------------------

  function isColorKey(key) { return typeof key === "string" && /colou?r$/i.test(key); }

  function mapNode(node, key, pal, lightText) {
    if (Array.isArray(node)) {
      if (key === "colorscale") return mapScale(node, pal);
      if (isColorKey(key) || key === "colorway") {
        var mapped = node.map(function (v) { return typeof v === "string" ? mapColor(v, pal, lightText) : v; });
        return mapped.some(function (v, i) { return v !== node[i]; }) ? mapped : node;
      }
      // coordinates, matrices, labels: data, never touched
      if (!node.length || node[0] === null || typeof node[0] !== "object" || Array.isArray(node[0])) return node;
    } else if (node === null || typeof node !== "object") {
      return typeof node === "string" && isColorKey(key) ? mapColor(node, pal, lightText) : node;
    }
    var out = node;
    for (var k in node) {
      if (!Object.prototype.hasOwnProperty.call(node, k)) continue;
      var v = mapNode(node[k], Array.isArray(node) ? key : k, pal, lightText);
      if (v !== node[k]) {
        if (out === node) out = Array.isArray(node) ? node.slice() : Object.assign({}, node);
        out[k] = v;
      }
    }
    return out;
  }

  // Text drawn on its marker (scatter text at "middle center", plotly's default position):
  // per point, the light design's text colour or the dark page's, whichever reads better.
  function labelsOnMarkers(trace, pal, lightText) {
    if (!trace || (trace.type || "scatter") !== "scatter" || !/text/.test(trace.mode || "")) return trace;
    if ((trace.textposition || "middle center") !== "middle center") return trace;
    if (trace.textfont && trace.textfont.color !== undefined) return trace;
    var colors = trace.marker && trace.marker.color;
    if (colors === undefined) return trace;
    var dark = linear(parse(lightText) || [34, 34, 34, 1]), light = linear(parse(pal.text));
    function pick(c) {
      var rgba = typeof c === "string" && parse(c);
      if (!rgba) return pal.text;
      var y = luminance(linear(rgba));
      return contrast(y, luminance(dark)) > contrast(y, luminance(light)) ? lightText : pal.text;
    }
    var textColor = Array.isArray(colors) ? colors.map(pick) : pick(colors);
    return Object.assign({}, trace, {textfont: Object.assign({}, trace.textfont, {color: textColor})});
  }

  function apply(fig) {
    if (!fig || !isDark()) return fig;
    if (!palette) palette = readPalette();
    var layout = fig.layout || {};
    var tpl = layout.template && layout.template.layout;
    var font = (layout.font && layout.font.color) || (tpl && tpl.font && tpl.font.color) || LIGHT_TEXT;
    var lightText = String(font).replace(/\s/g, "").toLowerCase();
    var data = mapNode(fig.data || [], "data", palette, lightText);
    data = data.map(function (t) { return labelsOnMarkers(t, palette, lightText); });
    var newLayout = mapNode(layout, "layout", palette, lightText);
    // a figure that never names its backgrounds or font gets the dark ones explicitly
    newLayout = Object.assign({}, newLayout);
    if (newLayout.paper_bgcolor === undefined) newLayout.paper_bgcolor = palette.bg;
    if (newLayout.plot_bgcolor === undefined) newLayout.plot_bgcolor = palette.bg;
    newLayout.font = Object.assign({}, newLayout.font);
    if (newLayout.font.color === undefined) newLayout.font.color = palette.text;
    return Object.assign({}, fig, {data: data, layout: newLayout});
  }

  // ---- theme changes ------------------------------------------------------------------------

  // The state a redraw depends on: dark or not, and which JupyterLab theme (two dark themes
  // have two backgrounds).
  function state() { return isDark() + "|" + ((document.body && document.body.dataset.jpThemeName) || ""); }

  var callbacks = [], last = null, watching = false;
  function changed() {
    palette = null;
    var now = state();
    if (now === last) return;
    last = now;
    callbacks.slice().forEach(function (cb) {
      try { cb(); } catch (err) { console.error("kxTheme: a theme-change callback failed", err); }
    });
  }
  function watch() {
    if (watching) return;
    if (!document.body) { document.addEventListener("DOMContentLoaded", watch); return; }
    watching = true;
    last = state();
    var observer = new MutationObserver(changed);
    observer.observe(document.documentElement, {attributes: true, attributeFilter: ["data-theme"]});
    observer.observe(document.body, {attributes: true,
                                     attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"]});
  }

  // cb() after each theme switch; returns a function that unregisters it (a live figure
  // removed from the notebook)
  function onChange(cb) {
    if (typeof cb !== "function") throw new TypeError("kxTheme.onChange: callback must be a function");
    callbacks.push(cb);
    watch();
    return function () {
      var i = callbacks.indexOf(cb);
      if (i >= 0) callbacks.splice(i, 1);
    };
  }

  window.kxTheme = {isDark: isDark, apply: apply, onChange: onChange};
  watch();
})();
