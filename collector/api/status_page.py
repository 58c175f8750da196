"""The status page served at `/`: one HTML document with its CSS and JavaScript inline — no CDN,
no build step, nothing loaded from another host (the operations room has no internet).

The server's HTML holds no component names: the page's script asks the JSON API for them with
the token the user gave, as `#token=…` in the URL fragment (never sent to the server; the script
moves it to `sessionStorage` and clears it from the address bar) or in the page's own form. It
polls `GET /api/v1/status` and `GET /api/v1/summary` every `POLL_SECONDS`.
"""

from __future__ import annotations

POLL_SECONDS = 5

# Content-Security-Policy of the page: its own inline style and script, requests to itself only.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

HTML = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>热线平台运行状态</title>
<style>
:root { --bg:#0d1117; --panel:#161b22; --fg:#e6edf3; --dim:#8b949e; --up:#2ea043;
  --down:#da3633; --nodata:#6e7681; --maint:#1f6feb; --warn:#d29922; }
* { box-sizing: border-box; }
html, body { margin:0; background:var(--bg); color:var(--fg);
  font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
  sans-serif; font-size: 22px; }
header { display:flex; justify-content:space-between; align-items:baseline; padding:16px 28px;
  border-bottom:2px solid #30363d; }
h1 { font-size:40px; margin:0; }
h2 { font-size:30px; margin:24px 0 12px; color:var(--dim); }
#clock { font-size:34px; font-variant-numeric: tabular-nums; }
#updated { color:var(--dim); font-size:20px; margin-left:20px; }
main { padding:0 28px 28px; }
.hidden { display:none !important; }
#login { max-width:640px; margin:80px auto; background:var(--panel); padding:32px;
  border-radius:12px; }
#login input { width:100%; font-size:26px; padding:12px; margin:16px 0; background:#0d1117;
  color:var(--fg); border:1px solid #30363d; border-radius:8px; }
#login button, #logout { font-size:24px; padding:10px 28px; background:var(--maint); color:#fff;
  border:0; border-radius:8px; cursor:pointer; }
#logout { font-size:18px; padding:6px 14px; background:#30363d; margin-left:20px; }
.error { color:#fff; background:var(--down); padding:12px 18px; border-radius:8px;
  font-size:26px; margin:16px 0; }
#systems { display:grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap:16px; }
.system { background:var(--panel); border-left:12px solid var(--up); border-radius:10px;
  padding:16px 20px; }
.system.down { border-left-color:var(--down); }
.system.no-data { border-left-color:var(--nodata); }
.system.maintenance { border-left-color:var(--maint); }
.system .name { font-size:32px; font-weight:bold; }
.system .state { font-size:30px; margin:6px 0; }
.system.down .state { color:#ff7b72; }
.avail { display:flex; justify-content:space-between; font-size:22px; white-space:nowrap; gap:8px;
  font-variant-numeric: tabular-nums; }
.avail .below { color:#ff7b72; font-weight:bold; }
.avail .ok { color:#7ee787; }
.components { display:flex; flex-wrap:wrap; gap:10px; margin-top:12px; }
.component { border-radius:8px; padding:8px 12px; font-size:22px; background:var(--up);
  color:#fff; min-width:120px; }
.component .st { display:block; font-size:18px; opacity:.9; }
.component.down { background:var(--down); }
.component.no-data { background:var(--nodata); }
.component.maintenance { background:var(--maint); }
#seats { display:grid; grid-template-columns: repeat(auto-fill, minmax(110px, 1fr)); gap:8px; }
#seats .component { min-width:0; text-align:center; padding:10px 4px; font-size:20px; }
table { width:100%; border-collapse:collapse; font-size:24px; }
th, td { text-align:left; padding:10px 12px; border-bottom:1px solid #30363d; }
th { color:var(--dim); font-weight:normal; }
.late { color:#ff7b72; font-weight:bold; }
.done { color:#7ee787; }
.running { color:var(--warn); }
.empty { color:var(--dim); }
.legend span { display:inline-block; padding:2px 10px; border-radius:6px; margin-left:8px;
  font-size:18px; }
</style>
</head>
<body>
<header>
  <h1>热线平台运行状态</h1>
  <div><span id="clock"></span><span id="updated"></span>
    <button id="logout" class="hidden" type="button">退出</button></div>
</header>
<main>
  <div id="error" class="error hidden" role="alert"></div>
  <form id="login" class="hidden" autocomplete="off">
    <label for="token-input">请输入访问令牌（采集器的座席代理或运维令牌）</label>
    <input id="token-input" name="token" type="password" required>
    <button type="submit">查看</button>
  </form>
  <div id="board" class="hidden">
    <h2>系统状态</h2>
    <div id="systems"></div>
    <h2>故障事件（未恢复）</h2>
    <div id="incidents"></div>
    <h2>维护窗口</h2>
    <div id="maintenance"></div>
    <h2>座席终端 <span class="legend"><span style="background:var(--up)">正常</span><span
      style="background:var(--down)">故障</span><span
      style="background:var(--nodata)">无数据</span><span
      style="background:var(--maint)">维护</span></span></h2>
    <div id="seats"></div>
  </div>
</main>
<script>
"use strict";
(function () {
  var KEY = "hotline-status-token";
  var POLL_MS = __POLL_SECONDS__ * 1000;
  var ORDER = ["acd", "ivr", "seat", "callsys", "other"];
  var NAMES = {acd: "排队机", ivr: "IVR", seat: "座席终端", callsys: "话务系统",
    other: "话务系统相关硬件"};
  var STATE = {up: "正常", down: "故障", no_data: "无数据"};
  var TZ = {timeZone: "Asia/Shanghai", hour12: false};  /* the hotline zone, whatever the screen */
  var timer = null, last = null, offset = 0;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  // A token in the fragment moves to sessionStorage; the address bar keeps no trace of it.
  function takeFragmentToken() {
    var hash = location.hash.replace(/^#/, "");
    if (!hash) { return; }
    var params = new URLSearchParams(hash);
    var token = params.get("token");
    if (token) { sessionStorage.setItem(KEY, token); }
    history.replaceState(null, "", location.pathname + location.search);
  }
  function token() { return sessionStorage.getItem(KEY); }

  function showLogin(message) {
    if (timer) { clearTimeout(timer); timer = null; }
    clear($("systems")); clear($("seats")); clear($("incidents")); clear($("maintenance"));
    $("board").classList.add("hidden");
    $("logout").classList.add("hidden");
    $("login").classList.remove("hidden");
    showError(message);
  }
  function showError(message) {
    var e = $("error");
    if (message) { e.textContent = message; e.classList.remove("hidden"); }
    else { e.textContent = ""; e.classList.add("hidden"); }
  }

  function api(path) {
    return fetch(path, {headers: {"Authorization": "Bearer " + token()}, cache: "no-store",
      credentials: "omit", referrerPolicy: "no-referrer"}).then(function (r) {
      if (r.status === 401 || r.status === 403) { throw {auth: true}; }
      if (!r.ok) { return r.text().then(function (t) { throw {message: r.status + " " + t}; }); }
      return r.json();
    });
  }

  function refresh() {
    if (!token()) { showLogin(""); return; }
    Promise.all([api("/api/v1/status"), api("/api/v1/summary")]).then(function (got) {
      last = {status: got[0], summary: got[1], at: Date.now()};
      offset = Date.parse(got[0].now) - Date.now();
      showError("");
      $("login").classList.add("hidden");
      $("board").classList.remove("hidden");
      $("logout").classList.remove("hidden");
      render(last);
      schedule();
    }).catch(function (e) {
      if (e && e.auth) {
        sessionStorage.removeItem(KEY);
        showLogin("令牌无效：请重新输入");
        return;
      }
      showError("无法读取采集器（" + ((e && e.message) || e) + "），" + (POLL_MS / 1000) +
        " 秒后重试" + (last ? "；下方为 " + new Date(last.at).toLocaleTimeString("zh-CN", TZ) +
        " 的状态" : ""));
      schedule();
    });
  }
  function schedule() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, POLL_MS);
  }

  function stateOf(c) {
    if (c.maintenance) { return "maintenance"; }
    return c.state;
  }
  function componentEl(c) {
    var state = stateOf(c);
    var e = el("div", "component");
    e.id = "component-" + c.id;
    e.setAttribute("data-component", c.id);
    e.setAttribute("data-state", c.state);
    if (c.state === "down") { e.classList.add("down"); }
    if (c.state === "no_data") { e.classList.add("no-data"); }
    if (state === "maintenance") { e.classList.add("maintenance"); }
    if (c.state === "up") { e.classList.add("up"); }
    e.appendChild(el("span", "id", c.id));
    var label = state === "maintenance"
      ? (c.state === "down" ? "维护（停机）" : "维护中") : STATE[c.state] || c.state;
    e.appendChild(el("span", "st", label));
    e.title = c.id + "：" + label;
    return e;
  }

  /* truncated, never rounded up: 99.996 % must not read as a met 100.00 % */
  function pct(v) {
    if (v === null || v === undefined) return "—";
    return (Math.floor(v * 10000) / 100).toFixed(2) + "%";
  }
  function availEl(label, part, target) {
    var row = el("div", "avail");
    row.appendChild(el("span", null, label));
    var value = part ? part.value : null;
    var v = el("span", value === null ? "empty" : (value < target ? "below" : "ok"),
      pct(value) + (target !== null ? " / 目标" + pct(target) : ""));
    row.appendChild(v);
    return row;
  }

  function render(d) {
    var comps = d.status.components, summary = d.summary;
    var bySystem = {};
    comps.forEach(function (c) { (bySystem[c.system] = bySystem[c.system] || []).push(c); });
    var systems = {};
    summary.systems.forEach(function (s) { systems[s.id] = s; });
    var ids = ORDER.slice();
    Object.keys(bySystem).concat(Object.keys(systems)).forEach(function (s) {
      if (ids.indexOf(s) < 0) { ids.push(s); }
    });

    var box = $("systems");
    clear(box);
    ids.forEach(function (sid) {
      var members = bySystem[sid] || [];
      var info = systems[sid] || {name: NAMES[sid] || sid, target: null};
      if (!members.length && !systems[sid]) { return; }
      var down = members.filter(function (c) { return c.state === "down" && !c.maintenance; });
      var maint = members.filter(function (c) { return c.maintenance; });
      var silent = members.filter(function (c) { return c.state === "no_data"; });
      var card = el("section", "system");
      card.id = "system-" + sid;
      card.setAttribute("data-system", sid);
      var text;
      if (!members.length) { card.classList.add("no-data"); text = "无组件"; }
      else if (down.length) { card.classList.add("down"); text = "故障 " + down.length + "/" +
        members.length; }
      else if (maint.length) { card.classList.add("maintenance"); text = "维护 " +
        maint.length + "/" + members.length; }
      else if (silent.length === members.length) { card.classList.add("no-data");
        text = "无数据"; }
      else { text = "正常 " + (members.length - silent.length) + "/" + members.length; }
      card.appendChild(el("div", "name", info.name || NAMES[sid] || sid));
      card.appendChild(el("div", "state", text));
      if (info.target !== null && info.target !== undefined) {
        card.appendChild(availEl("今日可用率", info.today, info.target));
        card.appendChild(availEl("本月可用率", info.month, info.target));
      }
      if (sid !== "seat" && members.length) {
        var list = el("div", "components");
        members.forEach(function (c) { list.appendChild(componentEl(c)); });
        card.appendChild(list);
      }
      box.appendChild(card);
    });

    var seats = $("seats");
    clear(seats);
    (bySystem.seat || []).forEach(function (c) { seats.appendChild(componentEl(c)); });
    if (!(bySystem.seat || []).length) { seats.appendChild(el("div", "empty", "无座席数据")); }

    renderIncidents();
    renderMaintenance(summary.maintenance);
  }

  function dur(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + "时" : "") + (h || m ? m + "分" : "") + sec + "秒";
  }
  function clockCell(start, stop, limitS, now) {
    var td = el("td");
    if (limitS === undefined || limitS === null) { td.textContent = "—"; return td; }
    var begun = Date.parse(start), limit = limitS * 1000;
    if (stop) {
      var took = Date.parse(stop) - begun;
      td.className = took > limit ? "late" : "done";
      td.textContent = "用时 " + dur(took) + " / 限 " + dur(limit);
    } else {
      var gone = now - begun;
      td.className = gone > limit ? "late" : "running";
      td.textContent = (gone > limit ? "已超时 " : "计时 ") + dur(gone) + " / 限 " + dur(limit);
    }
    return td;
  }
  function renderIncidents() {
    if (!last) { return; }
    var box = $("incidents"), list = last.status.open_incidents;
    var limits = last.summary.limits || {}, now = Date.now() + offset;
    clear(box);
    if (!list.length) { box.appendChild(el("div", "empty", "无")); return; }
    var t = el("table"), head = el("tr");
    ["编号", "级别", "组件", "发现时间", "响应", "恢复"].forEach(function (h) {
      head.appendChild(el("th", null, h));
    });
    t.appendChild(head);
    list.forEach(function (i) {
      var tr = el("tr", "incident");
      tr.setAttribute("data-incident", i.id);
      var lim = limits[i.severity] || {};
      tr.appendChild(el("td", null, i.id));
      tr.appendChild(el("td", null, i.severity));
      tr.appendChild(el("td", null, i.components.join("、")));
      tr.appendChild(el("td", null, new Date(i.detected_at).toLocaleString("zh-CN", TZ)));
      tr.appendChild(clockCell(i.detected_at, i.responded_at, lim.response, now));
      tr.appendChild(clockCell(i.detected_at, i.restored_at, lim.restoration, now));
      t.appendChild(tr);
    });
    box.appendChild(t);
  }
  function renderMaintenance(m) {
    var box = $("maintenance");
    clear(box);
    var rows = (m.current || []).map(function (w) { return [w, "进行中"]; })
      .concat((m.upcoming || []).map(function (w) { return [w, "计划"]; }));
    if (!rows.length) { box.appendChild(el("div", "empty", "无（未来7天）")); return; }
    var t = el("table"), head = el("tr");
    ["编号", "状态", "组件", "开始", "结束", "原因"].forEach(function (h) {
      head.appendChild(el("th", null, h));
    });
    t.appendChild(head);
    rows.forEach(function (r) {
      var w = r[0], tr = el("tr", r[1] === "进行中" ? "window current" : "window upcoming");
      tr.setAttribute("data-window", w.id);
      tr.appendChild(el("td", null, w.id));
      tr.appendChild(el("td", r[1] === "进行中" ? "running" : null, r[1]));
      tr.appendChild(el("td", null, w.components.join("、")));
      tr.appendChild(el("td", null, new Date(w.start).toLocaleString("zh-CN", TZ)));
      tr.appendChild(el("td", null, new Date(w.end).toLocaleString("zh-CN", TZ)));
      tr.appendChild(el("td", null, w.reason || ""));
      t.appendChild(tr);
    });
    box.appendChild(t);
  }

  function tick() {
    var now = new Date(Date.now() + offset);
    $("clock").textContent = now.toLocaleString("zh-CN", TZ);
    if (last) {
      $("updated").textContent = "更新于 " + dur(Date.now() - last.at) + "前";
      renderIncidents();
    }
  }

  $("login").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var v = $("token-input").value.trim();
    $("token-input").value = "";
    if (!v) { return; }
    sessionStorage.setItem(KEY, v);
    refresh();
  });
  $("logout").addEventListener("click", function () {
    sessionStorage.removeItem(KEY);
    last = null;
    showLogin("");
  });
  window.addEventListener("hashchange", function () { takeFragmentToken(); refresh(); });

  takeFragmentToken();
  tick();
  setInterval(tick, 1000);
  refresh();
})();
</script>
</body>
</html>
""".replace("__POLL_SECONDS__", str(POLL_SECONDS))
