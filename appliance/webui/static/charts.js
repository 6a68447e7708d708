// Draws the admin charts (uPlot) from /api/charts, refreshed as new points come.
(function () {
  'use strict';
  var box = document.getElementById('charts');
  if (!box || !window.uPlot) return;
  var src = box.getAttribute('data-src');
  var labels = {};
  var lab = document.getElementById('chart-labels');
  if (lab) { try { labels = JSON.parse(lab.textContent); } catch (e) { labels = {}; } }
  var colors = ['#e5533d', '#3fb950', '#58a6ff', '#d29922', '#bc8cff', '#39c5cf', '#f778ba', '#9aa0a6'];
  var plots = {}; // chart name -> {u, names, el}
  var height = 150;
  // The last hour refreshes every 10 s (a new point); longer spans, whose
  // JSON is up to 24 times larger, every minute.
  var span = +((/[?&]range=(\d+)/.exec(src) || [])[1] || 3600);
  var every = span > 3600 ? 60000 : 10000;

  // human writes a value in its unit: bytes with binary prefixes, the rest
  // with at most 3 significant digits.
  function human(v, unit) {
    if (v === null || v === undefined || isNaN(v)) return '–';
    if (unit === 'B' || unit === 'B/s') {
      var p = ['', 'Ki', 'Mi', 'Gi', 'Ti'], i = 0;
      while (Math.abs(v) >= 1024 && i < p.length - 1) { v /= 1024; i++; }
      return (+v.toPrecision(3)) + ' ' + p[i] + unit;
    }
    return (+v.toPrecision(3)) + (unit ? ' ' + unit : '');
  }
  function width(el) { return Math.max(160, el.clientWidth - 16); }

  function draw(d) {
    var groups = {}, order = [];
    d.series.forEach(function (s) {
      if (!groups[s.chart]) { groups[s.chart] = []; order.push(s.chart); }
      groups[s.chart].push(s);
    });
    order.forEach(function (c) {
      var ss = groups[c];
      var data = [d.times].concat(ss.map(function (s) { return s.values; }));
      var names = ss.map(function (s) { return s.name; }).join('|');
      var p = plots[c];
      if (p && p.names === names) { p.u.setData(data); return; }
      if (p) { p.u.destroy(); box.removeChild(p.el); }
      var el = document.createElement('section');
      el.className = 'chart';
      el.setAttribute('data-chart', c);
      var h = document.createElement('h3');
      h.textContent = labels['chart.' + c] || c;
      el.appendChild(h);
      box.appendChild(el);
      var unit = ss[0].unit;
      var opts = {
        width: width(el), height: height,
        series: [{}].concat(ss.map(function (s, i) {
          return { label: labels[s.name] || s.name, stroke: colors[i % colors.length], width: 1.5,
            value: function (u, v) { return human(v, s.unit); } };
        })),
        axes: [
          { stroke: '#9aa0a6', grid: { stroke: 'rgba(128,128,128,.2)' } },
          { stroke: '#9aa0a6', grid: { stroke: 'rgba(128,128,128,.2)' }, size: 78,
            values: function (u, vals) { return vals.map(function (v) { return human(v, unit); }); } }
        ]
      };
      plots[c] = { u: new uPlot(opts, data, el), names: names, el: el };
    });
    box.setAttribute('data-drawn', String(order.length));
  }

  function load() {
    fetch(src, { credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      return r.status === 200 ? r.json() : null;
    }).then(function (d) {
      if (d) draw(d);
    }).catch(function () {}).finally(function () { setTimeout(load, every); });
  }
  var resizing = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      for (var c in plots) plots[c].u.setSize({ width: width(plots[c].el), height: height });
    }, 200);
  });
  load();
})();
