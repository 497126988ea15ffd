/* Start reveal.js on a chapter's deck (book/_ext/slides.py writes the deck) and keep each
 * Explorer drawn at its size.
 *
 * plotly.js sizes a plot from its container when it draws it. A slide that is not shown is
 * `display: none`, so a plot drawn or redrawn there gets a fallback size: each time a slide is
 * shown, its plots are fitted again to their now visible containers.
 */
(function () {
  "use strict";
  var root = document.querySelector(".reveal");

  function fitPlots(slide) {
    if (!slide || !window.Plotly) return;
    slide.querySelectorAll(".kx-plot").forEach(function (plot) {
      if (plot._fullLayout && plot.offsetWidth > 0) {
        window.Plotly.Plots.resize(plot).catch(function () {});  // hidden again meanwhile
      }
    });
  }

  // reveal.js leaves keys alone in an <input> or <textarea>, not in a <select>: there the
  // arrow keys would change the slide instead of the Explorer's option. Keys pressed in any
  // control of a slide stay with it (Space and Enter on a folded solution open it).
  root.addEventListener("keydown", function (event) {
    var t = event.target;
    if (t.matches("select, input, textarea") ||
        (t.matches("summary") && (event.key === " " || event.key === "Enter"))) {
      event.stopPropagation();
    }
  });

  window.Reveal.initialize({
    width: Number(root.dataset.kxWidth), height: Number(root.dataset.kxHeight),
    margin: 0.02, center: false, hash: true,
    navigationMode: "linear",  // left/right step through every slide, sections and their parts
    transition: "none", backgroundTransition: "none",  // a figure shows at once
    slideNumber: "c/t", controls: true, progress: true, preloadIframes: false,
  }).then(function () {
    root.dataset.kxReady = "1";
    fitPlots(window.Reveal.getCurrentSlide());
  });
  window.Reveal.on("slidechanged", function (event) { fitPlots(event.currentSlide); });
  window.Reveal.on("overviewhidden", function () { fitPlots(window.Reveal.getCurrentSlide()); });
})();
