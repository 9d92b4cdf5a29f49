// Caxton's charts: thin glue between the JSON a report embeds and uPlot
// (vendored beside this file, MIT). Two kinds of chart:
//  - CaxtonCharts.results(data, el): one chart per metric of a run; each
//    variant a point with its noise band as an error bar, the same-run
//    reference as a grey point beside it; log scale when values span more
//    than two decades.
//  - CaxtonCharts.trends(data, el): one chart per figure across runs in
//    commit order; the run's noise band as error bars and a shaded band,
//    the rolling median of the rule's window as a dashed trend line, the
//    same-run reference (grey) and the ratio to it (orange, right axis).
// Both write how long the drawing took into #cx-timing (for the headless
// browser check).
var CaxtonCharts = (function () {
  "use strict";

  function num(v) {
    return typeof v === "number" && isFinite(v) ? v : null;
  }

  function fmt(v) {
    if (v == null) return "n/a";
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 1e6) return v.toExponential(3);
    if (a >= 1000) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 0.01) return v.toFixed(3);
    return v.toExponential(3);
  }

  // Axis ticks: short, with SI suffixes past ten thousand.
  function tick(v) {
    if (v == null) return "";
    var a = Math.abs(v);
    if (a >= 1e9) return +(v / 1e9).toPrecision(3) + "G";
    if (a >= 1e6) return +(v / 1e6).toPrecision(3) + "M";
    if (a >= 1e4) return +(v / 1e3).toPrecision(3) + "k";
    if (a >= 1 || a === 0) return String(+v.toPrecision(4));
    return String(+v.toPrecision(3));
  }

  function esc(t) {
    return String(t).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }

  // Log scale when every value is positive and they span > 2 decades.
  function logScale(values) {
    var lo = Infinity, hi = -Infinity;
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (v == null) continue;
      if (v <= 0) return false;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    return lo > 0 && hi / lo > 100;
  }

  function yScale(values) {
    return logScale(values) ? { distr: 3, log: 10 } : { auto: true };
  }

  function width(el) {
    return Math.max(360, Math.min(960, (el.clientWidth || 900) - 8));
  }

  // A floating box with every series' value at the cursor.
  function tooltip(describe) {
    var tip;
    return {
      hooks: {
        init: function (u) {
          tip = document.createElement("div");
          tip.className = "cx-tip";
          tip.style.display = "none";
          u.over.appendChild(tip);
        },
        setCursor: function (u) {
          var i = u.cursor.idx;
          if (i == null) {
            tip.style.display = "none";
            return;
          }
          tip.innerHTML = describe(u, i);
          tip.style.display = "block";
          var left = u.cursor.left + 12;
          if (left + 260 > u.over.clientWidth) left = Math.max(0, u.cursor.left - 272);
          tip.style.left = left + "px";
          tip.style.top = u.cursor.top + 12 + "px";
        },
      },
    };
  }

  // Error bars: a vertical whisker lo..hi with caps at each x.
  function whiskers(loIdx, hiIdx, color, scaleKey) {
    return {
      hooks: {
        draw: function (u) {
          var ctx = u.ctx, xs = u.data[0], lo = u.data[loIdx], hi = u.data[hiIdx];
          var cap = 4 * devicePixelRatio;
          ctx.save();
          ctx.strokeStyle = color;
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.beginPath();
          for (var i = 0; i < xs.length; i++) {
            if (lo[i] == null || hi[i] == null) continue;
            var x = u.valToPos(xs[i], "x", true);
            var y0 = u.valToPos(lo[i], scaleKey || "y", true);
            var y1 = u.valToPos(hi[i], scaleKey || "y", true);
            ctx.moveTo(x, y0);
            ctx.lineTo(x, y1);
            ctx.moveTo(x - cap, y0);
            ctx.lineTo(x + cap, y0);
            ctx.moveTo(x - cap, y1);
            ctx.lineTo(x + cap, y1);
          }
          ctx.stroke();
          ctx.restore();
        },
      },
    };
  }

  function figure(el, title, note) {
    var fig = document.createElement("figure");
    fig.className = "cx-chart";
    var cap = document.createElement("figcaption");
    cap.innerHTML = esc(title) + (note ? ' <span class="cx-note">' + esc(note) + "</span>" : "");
    fig.appendChild(cap);
    el.appendChild(fig);
    return fig;
  }

  function stamp(t0, what) {
    var out = document.getElementById("cx-timing");
    if (!out) return;
    // uPlot draws in a microtask queued by each constructor; this one is
    // queued after them all, so it runs once every chart is drawn.
    // performance.now() counts from the start of navigation: the page's
    // load and parse plus the charts' first draw.
    Promise.resolve().then(function () {
      var now = performance.now();
      out.textContent = what + " drawn in " + (now - t0).toFixed(1) +
        " ms (script), page ready at " + now.toFixed(1) + " ms after navigation start";
      out.setAttribute("data-ms", now.toFixed(1));
      if (location.hash === "#selftest") selftest(out);
    });
  }

  // With #selftest in the URL: hover the middle of every chart and record
  // what its tooltip says (the headless-browser test reads it back).
  function selftest(out) {
    var said = [];
    document.querySelectorAll(".u-over").forEach(function (over) {
      var r = over.getBoundingClientRect();
      var at = { clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true };
      over.dispatchEvent(new MouseEvent("mouseenter", at));
      over.dispatchEvent(new MouseEvent("mousemove", at));
      var tip = over.querySelector(".cx-tip");
      said.push(tip && tip.style.display !== "none" ? tip.textContent : "");
    });
    out.setAttribute("data-tooltips", JSON.stringify(said));
  }

  // data: [{metric, unit, rows: [{n, variant, value, lo, hi, reference, reference_name}]}]
  function results(data, el) {
    var t0 = performance.now(), made = 0;
    data.forEach(function (m) {
      var rows = m.rows;
      var xs = rows.map(function (r) { return r.n; });
      var v = rows.map(function (r) { return num(r.value); });
      var lo = rows.map(function (r) { return num(r.lo); });
      var hi = rows.map(function (r) { return num(r.hi); });
      var ref = rows.map(function (r) { return num(r.reference); });
      var all = v.concat(lo, hi, ref);
      var sc = yScale(all);
      var fig = figure(el, m.metric, (sc.distr === 3 ? "log scale, " : "") + "unit " + m.unit);
      var opts = {
        width: width(el),
        height: 240,
        scales: { x: { time: false, range: [0.5, rows.length + 0.5] }, y: sc },
        axes: [
          { label: "row # in the table", splits: function () { return xs; }, values: function (u, s) { return s.map(function (x) { return "#" + x; }); } },
          { label: m.unit, size: 64, values: function (u, s) { return s.map(tick); } },
        ],
        series: [
          { label: "#" },
          { label: "value", stroke: "#3367d6", width: 0, points: { show: true, size: 9, fill: "#3367d6" } },
          // Drawn as whiskers by the plugin; here so the y range holds them.
          { label: "band low", stroke: "transparent", width: 0, points: { show: false } },
          { label: "band high", stroke: "transparent", width: 0, points: { show: false } },
          { label: "same-run reference", stroke: "#9aa0a6", width: 0, points: { show: true, size: 9, fill: "#9aa0a6" } },
        ],
        legend: { show: true },
        plugins: [
          whiskers(2, 3, "#3367d6"),
          tooltip(function (u, i) {
            var r = rows[i];
            var s = "<b>#" + r.n + " " + esc(r.variant) + "</b><br>value " + fmt(num(r.value)) + " " + esc(m.unit);
            if (num(r.lo) != null) s += "<br>band " + fmt(num(r.lo)) + " .. " + fmt(num(r.hi));
            if (num(r.reference) != null) s += "<br>" + esc(r.reference_name) + " " + fmt(num(r.reference));
            return s;
          }),
        ],
      };
      new uPlot(opts, [xs, v, lo, hi, ref], fig);
      made++;
    });
    stamp(t0, made + " chart(s)");
  }

  function median(a) {
    var s = a.slice().sort(function (x, y) { return x - y; });
    var n = s.length;
    if (!n) return null;
    return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }

  // data: the page data of caxton_report::trend::page_data: each run once
  // ([id, commit, date]), each series as columns (x: index into runs).
  function trends(data, el) {
    var t0 = performance.now(), made = 0, win = data.rule.window, runs = data.runs;
    data.series.forEach(function (s) {
      var pts = s.x.map(function (ri) { var r = runs[ri]; return { run: r[0], commit: r[1], date: r[2] }; });
      var xs = s.x.map(function (_, i) { return i; });
      var v = s.v.map(num);
      var lo = s.lo.map(num);
      var hi = s.hi.map(num);
      // The rule's trend line: median of the `window` runs before each one.
      var trend = v.map(function (_, i) {
        var w = v.slice(Math.max(0, i - win), i).filter(function (x) { return x != null; });
        return w.length ? median(w) : null;
      });
      var ref = s.r.map(num);
      var ratio = s.q.map(num);
      var hasRef = ref.some(function (x) { return x != null; });
      var hasRatio = ratio.some(function (x) { return x != null; });
      var sc = yScale(v.concat(lo, hi, ref));
      var j = s.judgement;
      var verdict = j ? j.verdict.replace("_", " ") : "not judged";
      var fig = figure(el, s.metric + " [" + s.variant + "]",
        (sc.distr === 3 ? "log scale, " : "") + "unit " + s.unit + ", " + pts.length + " runs, newest: " + verdict);
      if (j && j.verdict === "regression") fig.className += " cx-regression";
      var series = [
        { label: "run" },
        { label: "value", stroke: "#3367d6", width: 1.5, points: { show: pts.length <= 200, size: 5, fill: "#3367d6" } },
        { label: "noise low", stroke: "rgba(51,103,214,0.25)", width: 0, points: { show: false } },
        { label: "noise high", stroke: "rgba(51,103,214,0.25)", width: 0, points: { show: false } },
        { label: "rolling median (" + win + " runs)", stroke: "#188038", dash: [6, 4], width: 1.5, points: { show: false } },
        { label: s.reference_name || "same-run reference", stroke: "#9aa0a6", width: 1, points: { show: false } },
        { label: "value / reference", stroke: "#e8710a", width: 1, scale: "ratio", points: { show: false } },
      ];
      var axes = [
        {
          label: "commit (oldest first)",
          values: function (u, splits) {
            return splits.map(function (x) { var p = pts[Math.round(x)]; return p && Math.round(x) === x ? p.commit || "#" + p.run : ""; });
          },
        },
        { label: s.unit, size: 64, values: function (u, sp) { return sp.map(tick); } },
      ];
      if (hasRatio) axes.push({ scale: "ratio", side: 1, label: "ratio", grid: { show: false }, values: function (u, sp) { return sp.map(tick); } });
      var opts = {
        width: width(el),
        height: 220,
        scales: { x: { time: false }, y: sc, ratio: { auto: true } },
        axes: axes,
        series: series,
        bands: [{ series: [3, 2], fill: "rgba(51,103,214,0.12)" }],
        plugins: [
          whiskers(2, 3, "rgba(51,103,214,0.6)"),
          tooltip(function (u, i) {
            var p = pts[i];
            var t = "<b>" + esc(p.commit || "?") + "</b> run " + p.run + "<br>" + esc(p.date) + "<br>value " + fmt(v[i]) + " " + esc(s.unit);
            if (lo[i] != null) t += "<br>band " + fmt(lo[i]) + " .. " + fmt(hi[i]);
            if (trend[i] != null) t += "<br>rolling median " + fmt(trend[i]);
            if (ref[i] != null) t += "<br>" + esc(s.reference_name || "reference") + " " + fmt(ref[i]);
            if (ratio[i] != null) t += "<br>ratio " + fmt(ratio[i]);
            return t;
          }),
        ],
      };
      // Leave out the reference and ratio lines where no run has them.
      var data = [xs, v, lo, hi, trend, ref, ratio];
      var keep = series.map(function (_, i) { return !(i === 5 && !hasRef) && !(i === 6 && !hasRatio); });
      opts.series = series.filter(function (_, i) { return keep[i]; });
      new uPlot(opts, data.filter(function (_, i) { return keep[i]; }), fig);
      made++;
    });
    stamp(t0, made + " chart(s)");
  }

  return { results: results, trends: trends };
})();
