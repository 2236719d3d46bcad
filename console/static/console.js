// The board: live updates over server-sent events, a cue for critical alerts.
"use strict";
(function () {
  var rows = document.getElementById("board-rows");
  if (!rows) return;
  var live = document.getElementById("live");
  var count = document.getElementById("count");
  var banner = document.getElementById("banner");
  var soundBtn = document.getElementById("sound");
  var sound = localStorage.getItem("anju-sound") === "on";
  var audio = null;

  function showSound() { soundBtn.textContent = sound ? soundBtn.dataset.off : soundBtn.dataset.on; }
  soundBtn.addEventListener("click", function () {
    sound = !sound;
    localStorage.setItem("anju-sound", sound ? "on" : "off");
    if (sound && !audio) audio = new (window.AudioContext || window.webkitAudioContext)();
    showSound();
  });
  showSound();

  function beep() {
    if (!sound) return;
    if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
    [0, 0.35].forEach(function (at) {
      var o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880; g.gain.value = 0.15;
      o.connect(g); g.connect(audio.destination);
      o.start(audio.currentTime + at); o.stop(audio.currentTime + at + 0.2);
    });
  }

  function cue(id) {
    banner.hidden = false;
    document.body.classList.add("critical-cue");
    beep();
    setTimeout(function () { document.body.classList.remove("critical-cue"); }, 4000);
    setTimeout(function () { banner.hidden = true; }, 15000);
    var row = document.getElementById("alert-" + id);
    if (row) row.classList.add("fresh");
  }

  var loading = null, again = false;
  function reload(then) {
    if (loading) { again = true; return; }
    loading = fetch("/board/rows", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.redirected || r.status === 401) { location.reload(); return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) return;
        rows.innerHTML = html;
        count.textContent = rows.querySelectorAll("tr[data-id]").length;
        if (then) then();
      })
      .finally(function () {
        loading = null;
        if (again) { again = false; reload(); }
      });
  }

  var es = new EventSource("/events");
  es.addEventListener("hello", function () {
    live.textContent = live.dataset.ok; live.className = "live ok";
  });
  es.addEventListener("alert", function (e) {
    var d = JSON.parse(e.data);
    reload(function () { if (d.severity === "critical" && d.state === "open") cue(d.id); });
  });
  es.addEventListener("refresh", function () { reload(); });
  es.onerror = function () { live.textContent = live.dataset.lost; live.className = "live lost"; };
  setInterval(reload, 30000);   // the "waiting" column keeps counting
})();
