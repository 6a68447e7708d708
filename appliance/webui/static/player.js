// thecure's player. VOD: the browser's own HLS where it has it (Safari, iOS,
// Android, recent Chromium), else hls.js (vendored, /static/vendor/hls.js).
// Live: hls.js wherever Media Source Extensions exist (it follows LL-HLS
// parts and blocking reloads; native players mostly do not), else the
// browser's own HLS. ?mse=1 forces hls.js, ?native=1 the browser's HLS.
// The live page follows the stream (off air, on air, ended) by polling
// /api/live/NAME and starts the player again when a publisher comes back.
(function () {
  'use strict';
  var el = document.getElementById('player');
  if (!el) return;
  var src = el.getAttribute('data-src');
  var boxSrc = el.getAttribute('data-box-src'); // live: this box's LL-HLS when src is the CDN's
  var live = el.getAttribute('data-live') === '1';
  var q = location.search;
  var forceMSE = /[?&]mse=1(&|$)/.test(q), forceNative = /[?&]native=1(&|$)/.test(q);
  var hasNative = !!el.canPlayType('application/vnd.apple.mpegurl');
  var hasHlsJS = !!(window.Hls && window.Hls.isSupported());
  var errBox = document.getElementById('player-error');
  var menu = document.getElementById('quality');
  var hls = null, retry = null;

  function fail(msg) {
    if (errBox) { errBox.hidden = false; if (msg) errBox.title = msg; }
    el.setAttribute('data-error', msg || 'error');
  }
  function engine() {
    if (forceMSE) return hasHlsJS ? 'hlsjs' : '';
    if (forceNative) return hasNative ? 'native' : '';
    if (live) return hasHlsJS ? 'hlsjs' : (hasNative ? 'native' : '');
    return hasNative ? 'native' : (hasHlsJS ? 'hlsjs' : '');
  }

  function stop() {
    clearTimeout(retry);
    if (hls) { hls.destroy(); hls = null; }
    el.removeAttribute('src');
    el.load();
  }

  // start plays src with the chosen engine; a live stream that is not on
  // air (yet) is tried again every few seconds while the page says so.
  function start() {
    stop();
    var e = engine();
    if (!e) { fail('no HLS and no MediaSource'); return; }
    el.setAttribute('data-engine', e);
    el.removeAttribute('data-error');
    if (errBox) errBox.hidden = true;
    if (e === 'native') {
      el.src = src;
      if (live) {
        el.addEventListener('error', function onErr() {
          el.removeEventListener('error', onErr);
          if (state === 'live') retry = setTimeout(start, 3000);
        });
      }
      if (live) el.play().catch(function () {});
      return;
    }
    hls = new window.Hls({
      lowLatencyMode: true,
      maxLiveSyncPlaybackRate: 1.5, // catch up with the live edge after a stall
      backBufferLength: live ? 30 : 90,
      maxBufferLength: 30,
      startPosition: live ? -1 : 0
    });
    window.thecureHls = hls; // for the tests and the curious
    hls.on(window.Hls.Events.ERROR, function (_, data) {
      if (!data.fatal) return;
      if (live) {
        // reconnect while the stream is on air; the status poll starts
        // the player again when a publisher comes back
        if (state === 'live') retry = setTimeout(start, 2000);
        return;
      }
      if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); return; }
      fail(data.details);
    });
    if (live) {
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () {
        el.play().catch(function () {});
      });
    }
    hls.loadSource(src);
    hls.attachMedia(el);
  }

  // The quality menu: "auto" (the master playlist) or one variant, by its
  // height. hls.js switches levels; the browser's HLS is given the
  // variant's own playlist and put back where it was.
  if (menu) {
    menu.hidden = false;
    menu.addEventListener('change', function () {
      var opt = menu.options[menu.selectedIndex];
      if (hls) {
        var h = parseInt(opt.getAttribute('data-height') || '0', 10), level = -1;
        if (h) {
          hls.levels.forEach(function (l, i) { if (l.height === h) level = i; });
        }
        hls.currentLevel = level;
        return;
      }
      var t = el.currentTime, paused = el.paused;
      el.src = opt.value;
      el.addEventListener('loadedmetadata', function once() {
        el.removeEventListener('loadedmetadata', once);
        el.currentTime = t;
        if (!paused) el.play().catch(function () {});
      });
    });
  }

  if (!live) { start(); return; }

  // The live page follows the stream.
  var box = document.getElementById('live-status');
  var name = box ? box.getAttribute('data-name') : '';
  var state = box ? box.getAttribute('data-state') : 'live';
  var started = box ? box.getAttribute('data-started') : '';
  function show(st) {
    if (!box) return;
    box.setAttribute('data-state', st.state);
    var badge = document.getElementById('live-badge');
    if (badge) badge.hidden = st.state !== 'live';
    var notice = document.getElementById('live-notice');
    if (notice) {
      notice.textContent = box.getAttribute('data-text-' + st.state) || '';
      notice.hidden = st.state === 'live';
    }
    var viewers = document.getElementById('live-viewers');
    if (viewers) {
      var fmt = box.getAttribute(st.viewers === 1 ? 'data-text-viewer' : 'data-text-viewers') || '%d';
      viewers.textContent = fmt.replace('%d', String(st.viewers || 0));
      viewers.hidden = st.state !== 'live';
    }
  }
  function poll() {
    fetch('/api/live/' + encodeURIComponent(name), { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (st) {
        if (!st) return;
        var back = st.state === 'live' && (state !== 'live' || (st.started || '') !== started);
        state = st.state;
        started = st.started || '';
        show(st);
        // on air again (or for the first time): play it, from this box (the
        // CDN's copy of a stream that just began may not be there yet)
        if (back) { src = boxSrc || src; start(); }
        else if (st.state === 'offline' && (hls || el.getAttribute('src'))) stop();
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 2000); });
  }
  if (state === 'live') start();
  poll();
})();
