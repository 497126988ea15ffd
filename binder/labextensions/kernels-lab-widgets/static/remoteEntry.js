// Two fixes to ipywidgets in JupyterLab for the book's live Explorers, as one prebuilt extension.
//
// 1. Live widgets in slideshows. "Open as Slideshow" (jupyterlab-myst-revealjs 1.5.1) is its own
//    document widget, not a notebook panel. It renders code cells with a clone of the lab's
//    global rendermime, and @jupyter-widgets/jupyterlab-manager gives a widget manager only to
//    notebook panels and consoles; the global rendermime holds a placeholder renderer that waits
//    for a manager forever ("Loading widget..."). The slideshow plugin hands each slideshow the
//    kernel's widget manager (the notebook's own: jupyterlab-manager keeps one per kernel)
//    through that package's public registerWidgetManager(context, rendermime, renderers).
//    It reads two private fields of jupyterlab-myst-revealjs 1.5.1 (the slide builder's
//    _rendermime and _codeCellEntries); tests/test_slides.py fails if a new version moves them.
//
// 2. Saved widget state that survives a save. With saveState on (binder/overrides.json), a
//    notebook saves the state of its widgets, so that a reopened notebook shows its controls
//    instead of "model not found". But jupyterlab-manager 5 saves only the widgets a live kernel
//    holds (get_state_sync keeps comm_live models): a reopened notebook that is saved (autosave
//    too) before it is run again loses the state of every widget it still shows, and the next
//    reopen shows the error again. The saved-state plugin wraps WidgetManager's save step: a
//    widget that an output of the notebook still displays, that no kernel holds, and whose state
//    the notebook had, keeps that state (with the widgets it refers to, IPY_MODEL_<id>). Outputs
//    replaced by a new run display new widgets, so old state does not pile up. It wraps the
//    private _saveState and reads _context of jupyterlab-manager 5.0; tests/test_lab.py fails if
//    a new version renames them.
//
// No build step and no npm: this file is a hand-written module-federation container, the form
// JupyterLab loads a prebuilt extension in (init(shareScope), then get("./extension")()).
var _JUPYTERLAB;
(function () {
  "use strict";
  var NAME = "kernels-lab-widgets", MANAGER = "@jupyter-widgets/jupyterlab-manager";
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

  var slideshowPlugin = {
    id: NAME + ":slideshow",
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

  var STATE = "application/vnd.jupyter.widget-state+json",
      VIEW = "application/vnd.jupyter.widget-view+json";

  function getWidgets(model) {
    return model.getMetadata ? model.getMetadata("widgets") : model.metadata.get("widgets");
  }

  function setWidgets(model, value) {
    if (model.setMetadata) model.setMetadata("widgets", value);
    else model.metadata.set("widgets", value);
  }

  // The ids of the widgets the notebook's outputs display.
  function shownIds(model) {
    var ids = [];
    for (var cell of model.toJSON().cells || [])
      for (var output of cell.outputs || []) {
        var view = output.data && output.data[VIEW];
        if (view && view.model_id) ids.push(view.model_id);
      }
    return ids;
  }

  // `state` (just saved) plus the entries of `before` (the notebook's previous state) for the
  // widgets in `ids` that `state` lacks, and for the widgets those refer to. Null: nothing to add.
  function withShown(before, state, ids) {
    var merged = Object.assign({}, state), added = 0, queue = ids.slice();
    while (queue.length) {
      var id = queue.pop();
      if (merged[id] || !before[id]) continue;
      merged[id] = before[id];
      added++;
      var refs = JSON.stringify(before[id].state || {}).match(/IPY_MODEL_[\w-]+/g) || [];
      for (var ref of refs) queue.push(ref.slice("IPY_MODEL_".length));
    }
    return added ? merged : null;
  }

  function keepShownState(widgets) {
    var proto = widgets.WidgetManager && widgets.WidgetManager.prototype;
    var save = proto && proto._saveState;
    if (typeof save !== "function") {
      console.warn(NAME + ": " + MANAGER + " has no WidgetManager._saveState to wrap");
      return;
    }
    proto._saveState = function () {
      var model = this._context && this._context.model;
      var old = model && getWidgets(model);
      var before = (old && old[STATE] && old[STATE].state) || {};
      save.apply(this, arguments);
      if (!model) return;
      var now = getWidgets(model), saved = now && now[STATE];
      // the notebook's outputs are read only when the save dropped some saved widget
      var dropped = saved && Object.keys(before).some(function (id) {
        return !(saved.state && saved.state[id]);
      });
      var merged = dropped && withShown(before, saved.state || {}, shownIds(model));
      if (merged) {
        var value = Object.assign({}, now);
        value[STATE] = Object.assign({}, saved, {state: merged});
        setWidgets(model, value);
      }
    };
  }

  var savedStatePlugin = {
    id: NAME + ":saved-state",
    description: "Saved widget state survives a save before the notebook is run again.",
    autoStart: true,
    activate: function () {
      widgetsModule().then(keepShownState, function (err) { console.warn(NAME + ":", err); });
    }
  };

  _JUPYTERLAB = window._JUPYTERLAB = window._JUPYTERLAB || {};
  _JUPYTERLAB[NAME] = {
    init: function (scope) { shareScope = scope; },
    // __esModule: JupyterLab then takes the plugins from `default`
    get: function () {
      return Promise.resolve(function () { return {__esModule: true, default: [slideshowPlugin, savedStatePlugin]}; });
    }
  };
})();
