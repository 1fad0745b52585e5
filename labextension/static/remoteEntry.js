/**
 * nemotron-lab-plotly: a JupyterLab 4 prebuilt mime renderer for application/vnd.plotly.v1+json.
 *
 * Hand-written rather than built with @jupyterlab/builder: a prebuilt extension is a webpack
 * module-federation container (window._JUPYTERLAB[name] with init(shareScope) and get(module)),
 * and this one needs a single module and a single shared package (@lumino/widgets, taken from
 * JupyterLab's own share scope), so a few dozen lines replace webpack and ~300 build packages
 * at install time. plotly.js is not bundled: `nemotron-lab kernel install` copies
 * plotly.min.js from the plotly.js-dist-min dependency beside this file (both files under
 * content-hashed names, see PLOTLY_FILE), and it is loaded on the first figure. The renderer
 * is "safe" (it draws JSON, runs no output's scripts), so JupyterLab uses it for untrusted
 * notebooks too, e.g. after saving and reopening.
 */
(function () {
  "use strict";
  var NAME = "nemotron-lab-plotly";
  var MIME = "application/vnd.plotly.v1+json";
  var here = document.currentScript && document.currentScript.src;
  var BASE = here ? here.replace(/[^/]*(\?.*)?$/, "") : "";
  // The installer (kernel/install.ts) writes the content-hashed name of the plotly.min.js it puts beside this file here.
  var PLOTLY_FILE = "plotly.min.js";
  var lumino = null;
  var plotly = null;

  /** plotly.min.js evaluated as a CommonJS module: no globals, and no clash with a page's own Plotly. */
  function loadPlotly() {
    plotly = plotly || fetch(BASE + PLOTLY_FILE).then(function (r) {
      if (!r.ok) throw new Error(NAME + ": " + BASE + PLOTLY_FILE + " answered " + r.status + "; rerun `nemotron-lab kernel install`");
      return r.text();
    }).then(function (src) {
      var module = { exports: {} };
      new Function("module", "exports", src)(module, module.exports);
      return module.exports;
    });
    return plotly;
  }

  /** The highest @lumino/widgets version JupyterLab shares. */
  function shared(scope, pkg) {
    var versions = scope[pkg];
    if (!versions) return Promise.reject(new Error(NAME + ": JupyterLab shares no " + pkg));
    var best = Object.keys(versions).sort(function (a, b) {
      var x = a.split(".").map(Number), y = b.split(".").map(Number);
      for (var i = 0; i < 3; i++) if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0);
      return 0;
    }).pop();
    return Promise.resolve(versions[best].get()).then(function (factory) { return factory(); });
  }

  function mimeExtension() {
    // A real subclass: Lumino's Widget is an ES2015 class, so calling it as a function throws.
    class PlotlyRenderer extends lumino.Widget {
      constructor(options) {
        super();
        this.mimeType = options.mimeType;
        this.drawn = false;
        this.addClass("nemotron-lab-plotly");
        this.node.style.width = "100%";
      }

      renderModel(model) {
        var self = this;
        var fig = model.data[this.mimeType] || {};
        var layout = Object.assign({ autosize: true }, fig.layout || {});
        this.node.style.height = (typeof layout.height === "number" ? layout.height : 420) + "px";
        return loadPlotly().then(function (Plotly) {
          self.Plotly = Plotly;
          return Plotly.react(self.node, fig.data || [], layout, Object.assign({ responsive: true }, fig.config || {}));
        }).then(function () {
          self.drawn = true;
          self.resize();
        }, function (err) {
          self.node.textContent = NAME + ": could not draw the figure: " + (err && err.message ? err.message : err);
        });
      }

      resize() {
        if (this.drawn && this.isAttached && this.node.offsetWidth > 0) this.Plotly.Plots.resize(this.node);
      }

      onAfterAttach() {
        var self = this;
        requestAnimationFrame(function () { self.resize(); });
      }

      onAfterShow() { this.onAfterAttach(); }

      onResize() { this.resize(); }

      dispose() {
        if (this.drawn && this.Plotly) this.Plotly.purge(this.node);
        super.dispose();
      }
    }

    var extension = {
      id: NAME + ":plotly",
      description: "Draws plotly figures (application/vnd.plotly.v1+json) offline",
      rendererFactory: { safe: true, mimeTypes: [MIME], createRenderer: function (options) { return new PlotlyRenderer(options); } },
      rank: 0,
      dataType: "json",
    };
    return { __esModule: true, default: extension };
  }

  var container = {
    init: function (scope) {
      return shared(scope, "@lumino/widgets").then(function (m) { lumino = m; });
    },
    get: function (module) {
      if (module !== "./mimeExtension") return Promise.reject(new Error(NAME + " has no module " + module));
      return Promise.resolve(function () { return mimeExtension(); });
    },
  };
  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[NAME] = container;
})();
