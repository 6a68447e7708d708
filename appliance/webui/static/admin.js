// Refreshes the admin page's status every 5 s (the page works without it).
(function () {
  'use strict';
  var box = document.getElementById('status');
  if (!box) return;
  var url = box.getAttribute('data-refresh');
  function tick() {
    fetch(url, { credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      if (r.status === 200) return r.text();
      if (r.status === 401 || r.status === 403 || r.redirected) location.reload();
      return null;
    }).then(function (html) {
      if (html !== null && html !== undefined) box.innerHTML = html;
    }).catch(function () {}).finally(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 5000);
})();
