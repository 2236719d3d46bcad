// The board: live updates over server-sent events, and an alarm that keeps on while an
// urgent alert is waiting for someone to take it.
"use strict";
(function () {
  var rows = document.getElementById("board-rows");
  if (!rows) return;
  var body = document.body;
  var live = document.getElementById("live");
  var count = document.getElementById("count");
  var banner = document.getElementById("banner");
  var bannerWho = document.getElementById("banner-who");
  var soundBtn = document.getElementById("sound");
  var intervalSel = document.getElementById("alarm-interval");
  var highBox = document.getElementById("alarm-high");
  var filters = document.getElementById("board-filters");
  var sound = localStorage.getItem("anju-sound") === "on";
  var audio = null;

  // -- settings, kept in this browser ---------------------------------------------------
  function intervalS() {
    var v = parseFloat(localStorage.getItem("anju-alarm-interval") || "30");
    return isFinite(v) && v > 0 ? Math.max(v, 0.2) : 30;
  }
  function includeHigh() { return localStorage.getItem("anju-alarm-high") === "on"; }

  (function showInterval() {
    var v = String(intervalS());
    if (!Array.prototype.some.call(intervalSel.options, function (o) { return o.value === v; })) {
      var o = document.createElement("option");       // a value set elsewhere (tests, by hand)
      o.value = v; o.textContent = v + " s";
      intervalSel.appendChild(o);
    }
    intervalSel.value = v;
  })();
  intervalSel.addEventListener("change", function () {
    localStorage.setItem("anju-alarm-interval", intervalSel.value);
    if (alarm.on) { stopTimers(); startTimers(); }
  });
  highBox.checked = includeHigh();
  highBox.addEventListener("change", function () {
    localStorage.setItem("anju-alarm-high", highBox.checked ? "on" : "off");
    update();
  });

  function showSound() { soundBtn.textContent = sound ? soundBtn.dataset.off : soundBtn.dataset.on; }
  soundBtn.addEventListener("click", function () {
    sound = !sound;
    localStorage.setItem("anju-sound", sound ? "on" : "off");
    if (sound && !audio) audio = new (window.AudioContext || window.webkitAudioContext)();
    if (sound && audio && audio.state === "suspended") audio.resume();
    // A click is the moment a browser lets a page ask to show notifications.
    if (sound && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission();
    }
    showSound();
  });
  showSound();

  // -- the alarm ---------------------------------------------------------------------------
  var alarm = { on: false, tones: 0, tone: null, flash: null, flashed: false,
                title: document.title, notified: {} };

  function beep() {
    if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
    [0, 0.35].forEach(function (at) {
      var o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880; g.gain.value = 0.15;
      o.connect(g); g.connect(audio.destination);
      o.start(audio.currentTime + at); o.stop(audio.currentTime + at + 0.2);
    });
  }

  function tone() {
    if (!sound) return;
    try { beep(); } catch (e) { /* no audio device: the banner and title still show */ }
    alarm.tones += 1;
    body.dataset.tones = String(alarm.tones);
  }

  function urgent() {
    var high = includeHigh();
    return Array.prototype.filter.call(rows.querySelectorAll("tr[data-id][data-state=open]"),
      function (tr) {
        var s = tr.dataset.severity;
        return s === "critical" || (high && s === "high");
      });
  }

  function urgentTitle(list) {
    return banner.dataset.urgent + list[0].dataset.resident + " · " + banner.dataset.board;
  }

  function startTimers() {
    alarm.tone = setInterval(tone, intervalS() * 1000);
    alarm.flash = setInterval(function () {
      alarm.flashed = !alarm.flashed;
      var list = urgent();
      document.title = alarm.flashed && list.length ? urgentTitle(list) : alarm.title;
      body.dataset.titleFlash = alarm.flashed ? "urgent" : "plain";
    }, 1000);
  }

  function stopTimers() {
    clearInterval(alarm.tone); clearInterval(alarm.flash);
    alarm.tone = alarm.flash = null;
  }

  function notify(list) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    list.forEach(function (tr) {
      var id = tr.dataset.id;
      if (alarm.notified[id]) return;
      alarm.notified[id] = true;
      var what = tr.querySelector("td a");
      try {
        new Notification(urgentTitle([tr]), { body: what ? what.textContent : "", tag: "anju-" + id });
      } catch (e) { /* some browsers allow notifications from a service worker only */ }
    });
  }

  function update() {
    var list = urgent();
    if (list.length) {
      bannerWho.textContent = list.map(function (tr) { return tr.dataset.resident; }).join("、");
      banner.hidden = false;
      notify(list);
      if (!alarm.on) {
        alarm.on = true;
        body.dataset.alarm = "on";
        tone();
        startTimers();
      }
    } else if (alarm.on || body.dataset.alarm !== "off") {
      alarm.on = false;
      stopTimers();
      document.title = alarm.title;
      banner.hidden = true;
      body.dataset.alarm = "off";
      body.dataset.titleFlash = "plain";
    }
  }

  function cue(id) {
    body.classList.add("critical-cue");
    setTimeout(function () { body.classList.remove("critical-cue"); }, 4000);
    var row = document.getElementById("alert-" + id);
    if (row) row.classList.add("fresh");
  }

  // -- live rows, filtered as the page is ---------------------------------------------------
  var loading = null, again = false;
  function reload(then) {
    if (loading) { again = true; return; }
    loading = fetch("/board/rows" + location.search, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.redirected || r.status === 401) { location.reload(); return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) return;
        rows.innerHTML = html;
        count.textContent = rows.querySelectorAll("tr[data-id]").length;
        update();
        if (then) then();
      })
      .finally(function () {
        loading = null;
        if (again) { again = false; reload(); }
      });
  }

  // Filters apply as they are chosen (the button is there without scripts).
  Array.prototype.forEach.call(filters.querySelectorAll("select"), function (s) {
    s.addEventListener("change", function () { filters.submit(); });
  });

  body.dataset.tones = "0";
  body.dataset.alarm = "off";
  update();

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
