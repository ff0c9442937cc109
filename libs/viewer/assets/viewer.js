// The assay viewer's only script (served by the reporter; no framework, no CDN).
// - Keyboard: on a call page, ← / → (or k / j) open the previous / next item of the entity.
// - Live progress: pages with running experiments follow /viewer/live (server-sent events) and
//   update their progress cells (and say when a run ended). Data only ever reaches the page as textContent and attribute
//   values, never as markup.
(function () {
  'use strict';
  var KEYS = { ArrowLeft: 'ArrowLeft', k: 'ArrowLeft', ArrowRight: 'ArrowRight', j: 'ArrowRight' };
  document.addEventListener('keydown', function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    var t = e.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    var key = KEYS[e.key];
    if (!key) return;
    var links = document.querySelectorAll('a[data-key]');
    for (var i = 0; i < links.length; i++) {
      if (links[i].getAttribute('data-key') === key) {
        e.preventDefault();
        window.location.assign(links[i].href);
        return;
      }
    }
  });

  function cellsFor(identity) {
    var out = [];
    var cells = document.querySelectorAll('.live[data-identity]');
    for (var i = 0; i < cells.length; i++) if (cells[i].getAttribute('data-identity') === identity) out.push(cells[i]);
    return out;
  }

  function follow() {
    if (!document.body || document.body.getAttribute('data-live') !== '1' || !window.EventSource) return;
    var source = new EventSource('/viewer/live');
    source.addEventListener('progress', function (e) {
      var p = JSON.parse(e.data);
      cellsFor(p.identity).forEach(function (cell) {
        var bar = cell.querySelector('progress');
        if (bar) {
          bar.max = p.total || 1;
          bar.value = p.done;
        }
        var line = cell.querySelector('.line');
        if (line) line.textContent = p.line;
        cell.setAttribute('data-done', String(p.done));
      });
    });
    // The page is not reloaded under the reader's eyes: the cell says the run ended, and how.
    source.addEventListener('ended', function (e) {
      var p = JSON.parse(e.data);
      cellsFor(p.identity).forEach(function (cell) {
        cell.setAttribute('data-ended', p.event);
        var line = cell.querySelector('.line');
        if (line) line.textContent = 'attempt ' + p.attempt + ' ended (' + p.event.replace('experiment.', '') + '): reload the page for its results';
      });
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', follow);
  else follow();
})();
