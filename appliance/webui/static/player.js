// thecure's player: the browser's own HLS where it has it (Safari, iOS,
// Android, recent Chromium), else a small Media Source Extensions loader for
// fMP4 HLS (no third-party code). Add ?mse=1 to the page's URL to force the
// MSE path.
(function () {
  'use strict';
  var el = document.getElementById('player');
  if (!el) return;
  var src = el.getAttribute('data-src');
  var live = el.getAttribute('data-live') === '1';
  var forceMSE = /[?&]mse=1/.test(location.search);
  var errBox = document.getElementById('player-error');
  function fail(msg) {
    if (errBox) { errBox.hidden = false; if (msg) errBox.title = msg; }
    el.setAttribute('data-error', msg || 'error');
  }

  if (!forceMSE && el.canPlayType('application/vnd.apple.mpegurl')) {
    el.setAttribute('data-engine', 'native');
    el.src = src;
    if (live) retryNative();
    return;
  }
  if (!window.MediaSource) { fail('no HLS and no MediaSource'); return; }
  el.setAttribute('data-engine', 'mse');
  mse(src).catch(function (e) { fail(String(e)); });

  // A live stream that is not on air yet answers 404: try again until it is.
  function retryNative() {
    el.addEventListener('error', function () {
      setTimeout(function () { el.src = src; el.load(); el.play().catch(function () {}); }, 3000);
    });
  }

  function get(url, type) {
    return fetch(url, { credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
      return type === 'buf' ? r.arrayBuffer() : r.text();
    });
  }
  function attr(line, name) {
    var m = new RegExp(name + '=("([^"]*)"|[^,]*)').exec(line);
    return m ? (m[2] !== undefined ? m[2] : m[1]) : null;
  }
  function abs(u, base) { return new URL(u, base).href; }
  function once(t, ev) { return new Promise(function (ok) { t.addEventListener(ev, ok, { once: true }); }); }

  // mse plays a master (or media) playlist of fMP4 HLS: the first variant,
  // and its separate audio rendition when there is one (as LL-HLS muxers
  // make them), each into its own SourceBuffer.
  function mse(master) {
    var media = abs(master, location.href), codecs = null, audio = null;
    return get(media).then(function (text) {
      var lines = text.split(/\r?\n/), group = null, renditions = {};
      for (var i = 0; i < lines.length; i++) {
        var l = lines[i];
        if (l.indexOf('#EXT-X-MEDIA:') === 0 && attr(l, 'TYPE') === 'AUDIO' && attr(l, 'URI')) {
          var g = attr(l, 'GROUP-ID');
          if (!renditions[g] || attr(l, 'DEFAULT') === 'YES') renditions[g] = abs(attr(l, 'URI'), media);
        } else if (l.indexOf('#EXT-X-STREAM-INF') === 0 && !codecs) {
          codecs = attr(l, 'CODECS') || '';
          group = attr(l, 'AUDIO');
          for (var j = i + 1; j < lines.length; j++) {
            if (lines[j] && lines[j][0] !== '#') { media = abs(lines[j], media); break; }
          }
        }
      }
      if (group && renditions[group]) audio = renditions[group];
      var list = (codecs || 'avc1.42E01E,mp4a.40.2').split(',').map(function (c) { return c.trim(); });
      var vc = list.filter(function (c) { return /^(avc|hvc|hev|av01|vp0)/.test(c); });
      var ac = list.filter(function (c) { return vc.indexOf(c) < 0; });
      var ms = new MediaSource();
      el.src = URL.createObjectURL(ms);
      return once(ms, 'sourceopen').then(function () {
        var tracks = [];
        if (audio) {
          tracks.push([ms.addSourceBuffer('video/mp4; codecs="' + vc.join(',') + '"'), media]);
          tracks.push([ms.addSourceBuffer('audio/mp4; codecs="' + ac.join(',') + '"'), audio]);
        } else if (!vc.length || el.tagName === 'AUDIO') {
          tracks.push([ms.addSourceBuffer('audio/mp4; codecs="' + list.join(',') + '"'), media]);
        } else {
          tracks.push([ms.addSourceBuffer('video/mp4; codecs="' + list.join(',') + '"'), media]);
        }
        return Promise.all(tracks.map(function (t) { return load(t[0], t[1]); })).then(function () {
          if (ms.readyState === 'open') ms.endOfStream();
        });
      });
    });
  }

  // ahead is how many seconds are buffered past the playhead.
  function ahead() {
    var b = el.buffered;
    return b.length ? b.end(b.length - 1) - el.currentTime : 0;
  }
  // room waits until less than 30 s are buffered ahead, so a long film is
  // not loaded whole into memory.
  function room() {
    if (live || ahead() < 30) return Promise.resolve();
    return new Promise(function (ok) { setTimeout(ok, 1000); }).then(room);
  }

  // load appends a media playlist's init section and segments to sb, and
  // follows a live playlist until it ends.
  function load(sb, media) {
    var seen = {}, initDone = false, first = true;
    function append(buf) { sb.appendBuffer(buf); return once(sb, 'updateend'); }
    function poll() {
      return get(media).then(function (text) {
        var lines = text.split(/\r?\n/), target = 2, chain = Promise.resolve(), ended = false;
        var segs = [], gap = false;
        lines.forEach(function (l) {
          if (l.indexOf('#EXT-X-TARGETDURATION:') === 0) target = parseFloat(l.split(':')[1]) || 2;
          else if (l.indexOf('#EXT-X-GAP') === 0) gap = true;
          else if (l.indexOf('#EXT-X-MAP:') === 0 && !initDone) {
            var init = abs(attr(l, 'URI'), media);
            initDone = true;
            chain = chain.then(function () { return get(init, 'buf'); }).then(append);
          } else if (l.indexOf('#EXT-X-ENDLIST') === 0) ended = true;
          else if (l && l[0] !== '#') {
            if (!gap) segs.push(abs(l, media));
            gap = false;
          }
        });
        if (live && first && segs.length > 3) segs = segs.slice(-3); // start near the live edge
        first = false;
        segs.forEach(function (u) {
          if (seen[u]) return;
          seen[u] = true;
          chain = chain.then(room).then(function () { return get(u, 'buf'); }).then(append);
        });
        return chain.then(function () {
          var b = el.buffered;
          if (b.length && (el.currentTime < b.start(0) || (live && el.currentTime > b.end(b.length - 1)))) el.currentTime = b.start(b.length - 1);
          if (ended) return;
          return new Promise(function (ok) { setTimeout(ok, target * 500); }).then(poll);
        });
      });
    }
    return poll();
  }
})();
