// Live ipywidgets (the book's Explorers) in jupyterlab-myst-revealjs slideshows.
//
// Why: "Open as Slideshow" (jupyterlab-myst-revealjs 1.5.1) is its own document widget, not a
// notebook panel. It renders code cells with a clone of the lab's global rendermime, and
// @jupyter-widgets/jupyterlab-manager gives a widget manager only to notebook panels and
// consoles; the global rendermime holds a placeholder renderer that waits for a manager
// forever ("Loading widget..."). This plugin hands each slideshow the kernel's widget manager
// (the notebook's own: jupyterlab-manager keeps one per kernel) through that package's public
// registerWidgetManager(context, rendermime, renderers).
//
// No build step and no npm: this file is a hand-written module-federation container, the form
// JupyterLab loads a prebuilt extension in (init(shareScope), then get("./extension")()).
// It reads two private fields of jupyterlab-myst-revealjs 1.5.1 (the slide builder's
// _rendermime and _codeCellEntries); tests/test_slides.py fails if a new version moves them.
var _JUPYTERLAB;
(function () {
  "use strict";
  var NAME = "kernels-slideshow-widgets", MANAGER = "@jupyter-widgets/jupyterlab-manager";
  var shareScope = null;

  // The jupyterlab-manager module the lab already loaded (shared), not a copy.
  function widgetsModule() {
    var versions = shareScope && shareScope[MANAGER];
    if (!versions) return Promise.reject(new Error(MANAGER + " is not in the share scope"));
    var entry = versions[Object.keys(versions)[0]];
    return Promise.resolve(entry.get()).then(function (factory) { return factory(); });
  }

  // Placeholder renderers the slideshow made before it got the manager (its first build).
  function* placeholders(builder, WidgetRenderer) {
    for (var entry of builder._codeCellEntries || [])
      for (var output of entry.codeCell.outputArea.widgets)
        for (var child of Array.from(output.children()))
          if (child instanceof WidgetRenderer) yield child;
  }

  function give(widgets, slideshow) {
    var builder = slideshow.slideBuilder, rendermime = builder && builder._rendermime;
    if (!rendermime) {
      console.warn(NAME + ": this slideshow has no rendermime to give a widget manager to");
      return;
    }
    widgets.registerWidgetManager(slideshow.context, rendermime,
                                  placeholders(builder, widgets.WidgetRenderer));
  }

  var plugin = {
    id: NAME + ":plugin",
    description: "Live ipywidgets in jupyterlab-myst-revealjs slideshows.",
    autoStart: true,
    activate: function (app) {
      var registry = app.docRegistry;
      function connect(factory) {
        widgetsModule().then(function (widgets) {
          factory.widgetCreated.connect(function (_, slideshow) { give(widgets, slideshow); });
        }, function (err) { console.warn(NAME + ":", err); });
      }
      var factory = registry.getWidgetFactory("Slideshow");
      if (factory) connect(factory);
      else registry.changed.connect(function (_, args) {
        if (args.type === "widgetFactory" && args.change === "added" &&
            String(args.name).toLowerCase() === "slideshow")
          connect(registry.getWidgetFactory("Slideshow"));
      });
    }
  };

  _JUPYTERLAB = window._JUPYTERLAB = window._JUPYTERLAB || {};
  _JUPYTERLAB[NAME] = {
    init: function (scope) { shareScope = scope; },
    // __esModule: JupyterLab then takes the plugins from `default`
    get: function () {
      return Promise.resolve(function () { return {__esModule: true, default: [plugin]}; });
    }
  };
})();
