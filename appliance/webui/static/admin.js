// Refreshes the admin page's status every 5 s (the page works without it).
(function () {
  'use strict';
  var box = document.getElementById('status');
  if (!box) return;
  var url = box.getAttribute('data-refresh');
  function tick() {
    fetch(url, { credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      // A login that ended sends the fetch to the login form: reload, so
      // the page itself goes there.
      if (r.redirected || r.status === 401 || r.status === 403) { location.reload(); return null; }
      return r.status === 200 ? r.text() : null;
    }).then(function (html) {
      if (html !== null && html !== undefined) box.innerHTML = html;
    }).catch(function () {}).finally(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 5000);
})();
