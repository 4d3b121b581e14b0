// axia candlestick chart: draws the bars embedded in #bars on two canvases (the chart, and an
// overlay for the crosshair). Only visible bars are drawn; when there are more bars than pixels,
// consecutive bars are merged into one candle (buckets aligned to the bar index, so panning does
// not change them). Times are UTC.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("bars").textContent);
  var T = D.t, O = D.o, H = D.h, L = D.l, C = D.c, V = D.v, N = T.length, DIG = D.digits;
  var UP = D.up, DOWN = D.down, GRID = "#eceef1", AXIS = "#c8ccd2", LABEL = "#555b66";
  var FONT = "11px system-ui,-apple-system,'Segoe UI',Roboto,sans-serif";
  var wrap = document.getElementById("wrap"), tip = document.getElementById("tip");
  var base = document.getElementById("base"), over = document.getElementById("overlay");
  var bctx = base.getContext("2d"), octx = over.getContext("2d");
  var view = { start: 0, count: N };
  var g = null; // geometry and candles of the last draw
  var mouse = null, drag = null, pending = false;

  document.body.dataset.bars = String(N);
  if (N === 0) {
    document.body.dataset.candlesDrawn = "0";
    return;
  }

  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function utc(t) {
    var d = new Date(t * 1000);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }
  function niceStep(span, n) {
    var raw = span / Math.max(1, n);
    if (!(raw > 0) || !isFinite(raw)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }
  var STEPS = [60, 300, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 172800, 604800, 1209600];
  function timeStep(secs) {
    for (var i = 0; i < STEPS.length; i++) if (STEPS[i] >= secs) return STEPS[i];
    return secs <= 31 * 86400 ? "month" : "year";
  }
  function period(t, step) {
    if (step === "month") { var d = new Date(t * 1000); return d.getUTCFullYear() * 12 + d.getUTCMonth(); }
    if (step === "year") return new Date(t * 1000).getUTCFullYear();
    return Math.floor(t / step);
  }
  function timeLabel(t, step) {
    var d = new Date(t * 1000);
    if (step === "year") return "" + d.getUTCFullYear();
    if (step === "month") return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1);
    if (step < 86400 && t % 86400 !== 0) return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    return pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }

  function clampView() {
    view.count = Math.min(N, Math.max(Math.min(N, 5), view.count));
    view.start = Math.min(N - view.count, Math.max(0, view.start));
  }

  function resize(canvas, ctx, w, h, dpr) {
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  function draw() {
    pending = false;
    var dpr = window.devicePixelRatio || 1, W = wrap.clientWidth, Hh = wrap.clientHeight;
    resize(base, bctx, W, Hh, dpr);
    resize(over, octx, W, Hh, dpr);
    clampView();
    var ctx = bctx;
    ctx.font = FONT;
    var axisW = Math.ceil(ctx.measureText(Math.max.apply(null, H.slice(0, 500)).toFixed(DIG)).width) + 18;
    var left = 6, right = Math.max(left + 10, W - axisW), top = 8, bottom = Math.max(top + 40, Hh - 22);
    var priceBottom = top + Math.round((bottom - top) * 0.78), volTop = priceBottom + 8;
    var pw = right - left, pxPerBar = pw / view.count;
    var k = Math.max(1, Math.ceil(view.count / pw));
    var i0 = Math.max(0, Math.floor(view.start)), i1 = Math.min(N, Math.ceil(view.start + view.count));
    var b0 = Math.floor(i0 / k), b1 = Math.ceil(i1 / k), cs = [];
    var lo = Infinity, hi = -Infinity, vmax = 1;
    for (var b = b0; b < b1; b++) {
      var s = b * k, e = Math.min(N, s + k), c = { i: s, n: e - s, t: T[s], o: O[s], h: -Infinity, l: Infinity, c: C[e - 1], v: 0 };
      for (var j = s; j < e; j++) {
        if (H[j] > c.h) c.h = H[j];
        if (L[j] < c.l) c.l = L[j];
        c.v += V[j];
      }
      if (c.h > hi) hi = c.h;
      if (c.l < lo) lo = c.l;
      if (c.v > vmax) vmax = c.v;
      cs.push(c);
    }
    var padP = hi > lo ? (hi - lo) * 0.05 : Math.max(Math.abs(lo), 1) * 0.001;
    lo -= padP; hi += padP;
    var yOf = function (p) { return top + Math.round((hi - p) / (hi - lo) * (priceBottom - top)); };
    var xOf = function (i) { return left + Math.floor((i - view.start + 0.5) * pxPerBar); };
    g = { left: left, right: right, top: top, bottom: bottom, priceBottom: priceBottom, volTop: volTop, lo: lo, hi: hi,
      k: k, b0: b0, cs: cs, pxPerBar: pxPerBar, xOf: xOf, yOf: yOf, W: W };

    ctx.clearRect(0, 0, W, Hh);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, W, Hh);
    // Price grid and labels.
    var step = niceStep(hi - lo, Math.max(2, Math.floor((priceBottom - top) / 48)));
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    for (var p = Math.ceil(lo / step) * step; p <= hi; p += step) {
      var y = yOf(p);
      ctx.fillStyle = GRID;
      ctx.fillRect(left, y, pw, 1);
      ctx.fillStyle = LABEL;
      ctx.fillText(p.toFixed(DIG), right + 8, y);
    }
    // Time grid and labels where the label period changes, at least one label apart.
    var minGap = ctx.measureText("00-00 00:00").width + 10;
    var span = cs.length > 1 ? cs[cs.length - 1].t - cs[0].t : D.tf;
    var ts = timeStep(span / (cs.length * k * pxPerBar) * minGap);
    var lastP = cs.length ? period(cs[0].t, ts) : 0, lastX = -1e9;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (var n = 1; n < cs.length; n++) {
      var per = period(cs[n].t, ts), x = xOf(cs[n].i + (cs[n].n - 1) / 2);
      if (per === lastP || x - lastX < minGap) { lastP = per; continue; }
      lastP = per; lastX = x;
      if (x < left || x > right) continue;
      ctx.fillStyle = GRID;
      ctx.fillRect(x, top, 1, bottom - top);
      var label = timeLabel(cs[n].t, ts), half = ctx.measureText(label).width / 2;
      if (x - half < 0 || x + half > right) continue;
      ctx.fillStyle = LABEL;
      ctx.fillText(label, x, bottom + 5);
    }
    ctx.textAlign = "left";
    ctx.fillText("UTC", right + 8, bottom + 5);
    // Candles and volume, clipped to the plot, one path per colour.
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, 0, pw, Hh);
    ctx.clip();
    var body = Math.max(1, Math.floor(pxPerBar * k * 0.7)), volH = bottom - volTop;
    [[true, UP], [false, DOWN]].forEach(function (side) {
      ctx.beginPath();
      for (var q = 0; q < cs.length; q++) {
        var c = cs[q];
        if ((c.c >= c.o) !== side[0]) continue;
        var xc = xOf(c.i + (c.n - 1) / 2), x0 = xc - Math.floor(body / 2);
        var yt = yOf(c.h), yo = yOf(c.o), yc = yOf(c.c);
        ctx.rect(xc, yt, 1, yOf(c.l) - yt + 1);
        ctx.rect(x0, Math.min(yo, yc), body, Math.max(1, Math.abs(yo - yc)));
      }
      ctx.fillStyle = side[1];
      ctx.fill();
      ctx.beginPath();
      for (q = 0; q < cs.length; q++) {
        c = cs[q];
        if ((c.c >= c.o) !== side[0]) continue;
        var vh = Math.round(c.v / vmax * volH);
        ctx.rect(xOf(c.i + (c.n - 1) / 2) - Math.floor(body / 2), bottom - vh, body, vh);
      }
      ctx.globalAlpha = 0.4;
      ctx.fill();
      ctx.globalAlpha = 1;
    });
    ctx.restore();
    ctx.fillStyle = AXIS;
    ctx.fillRect(right, top, 1, bottom - top);
    ctx.fillRect(left, bottom, pw + 1, 1);
    ctx.fillRect(left, volTop - 4, pw, 1);
    // The last visible close on the price scale.
    if (cs.length) {
      var last = cs[cs.length - 1], yl = yOf(last.c);
      ctx.fillStyle = last.c >= last.o ? UP : DOWN;
      ctx.fillRect(right + 1, yl - 9, W - right - 1, 18);
      ctx.fillStyle = "#fff";
      ctx.textBaseline = "middle";
      ctx.fillText(last.c.toFixed(DIG), right + 8, yl);
    }
    document.body.dataset.candlesDrawn = String(cs.length);
    document.body.dataset.aggregate = String(k);
    document.body.dataset.firstBar = String(i0);
    document.body.dataset.bars = String(N);
    drawOverlay();
  }

  function drawOverlay() {
    var ctx = octx;
    ctx.clearRect(0, 0, over.width, over.height);
    tip.style.display = "none";
    if (!g || !mouse || drag || mouse.x < g.left || mouse.x > g.right || mouse.y < g.top || mouse.y > g.bottom) return;
    var idx = Math.floor(view.start + (mouse.x - g.left) / g.pxPerBar), c = g.cs[Math.floor(idx / g.k) - g.b0];
    if (!c) return;
    var x = g.xOf(c.i + (c.n - 1) / 2);
    ctx.fillStyle = "rgba(31,35,40,0.45)";
    for (var y = g.top; y < g.bottom; y += 6) ctx.fillRect(x, y, 1, 3);
    for (var xx = g.left; xx < g.right; xx += 6) ctx.fillRect(xx, mouse.y, 3, 1);
    ctx.font = FONT;
    ctx.textBaseline = "middle";
    if (mouse.y <= g.priceBottom) {
      var price = g.hi - (mouse.y - g.top) / (g.priceBottom - g.top) * (g.hi - g.lo);
      ctx.fillStyle = "#1f2328";
      ctx.fillRect(g.right + 1, mouse.y - 9, g.W - g.right - 1, 18);
      ctx.fillStyle = "#fff";
      ctx.fillText(price.toFixed(DIG), g.right + 8, mouse.y);
    }
    var lines = [utc(c.t) + " UTC" + (c.n > 1 ? "  (" + c.n + " bars)" : ""),
      "O " + c.o.toFixed(DIG) + "  H " + c.h.toFixed(DIG), "L " + c.l.toFixed(DIG) + "  C " + c.c.toFixed(DIG),
      "V " + c.v];
    tip.textContent = lines.join("\n");
    tip.style.display = "block";
    var tx = x + 14, ty = mouse.y + 14;
    if (tx + tip.offsetWidth > g.right) tx = x - 14 - tip.offsetWidth;
    if (ty + tip.offsetHeight > g.bottom) ty = mouse.y - 14 - tip.offsetHeight;
    tip.style.left = Math.max(0, tx) + "px";
    tip.style.top = Math.max(0, ty) + "px";
  }

  // Redraws once per frame; the timer covers browsers that run no frames (hidden or headless).
  function flush() { if (pending) draw(); }
  function schedule() {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(flush);
      window.setTimeout(flush, 100);
    }
  }
  function pos(e) {
    var r = over.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  over.addEventListener("wheel", function (e) {
    e.preventDefault();
    if (!g) return;
    var m = pos(e), anchor = view.start + (m.x - g.left) / g.pxPerBar;
    var count = Math.min(N, Math.max(Math.min(N, 5), view.count * (e.deltaY > 0 ? 1.15 : 1 / 1.15)));
    view.start = anchor - (anchor - view.start) * count / view.count;
    view.count = count;
    schedule();
  }, { passive: false });
  over.addEventListener("pointerdown", function (e) {
    drag = { x: pos(e).x, start: view.start };
    try { over.setPointerCapture(e.pointerId); } catch (err) { /* a synthetic event has no pointer */ }
  });
  over.addEventListener("pointermove", function (e) {
    mouse = pos(e);
    if (drag && g) {
      view.start = drag.start - (mouse.x - drag.x) / g.pxPerBar;
      schedule();
    } else {
      drawOverlay();
    }
  });
  over.addEventListener("pointerup", function () { drag = null; drawOverlay(); });
  over.addEventListener("pointerleave", function () { mouse = null; drawOverlay(); });
  over.addEventListener("dblclick", function () { view.start = 0; view.count = N; schedule(); });
  window.addEventListener("resize", schedule);
  draw();
})();
