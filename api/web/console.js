// The operator console: everything through the JSON API, live over /live/console.
// Tokens live in this script's memory only; every value is written with textContent.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const money = (cents) => (cents / 100).toFixed(2);
  const MAX_LOG_ROWS = 300, RETRY_MIN_MS = 250, RETRY_MAX_MS = 4000;
  const session = { access: null, refresh: null, timer: null, username: "" };
  let socket = null, retryMs = RETRY_MIN_MS, lastEventId = 0, machine = null;

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function say(text, ok) {
    $("message").textContent = text || "";
    $("message").className = ok ? "message banner ok" : "message banner";
  }

  // --- the JSON API ---------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, error) {
      const fields = error.fields ? Object.values(error.fields).join(", ") : "";
      super(error.message + (fields && !error.message.includes(fields) ? ` (${fields})` : ""));
      this.status = status;
      this.code = error.code;
    }
  }

  async function api(method, path, body, { text = false, retry = true } = {}) {
    const headers = { "Content-Type": "application/json" };  // also without a body
    if (session.access) headers.Authorization = `Bearer ${session.access}`;
    const options = { method, headers };
    if (body !== undefined) options.body = JSON.stringify(body);
    const r = await fetch(path, options);
    if (r.status === 401 && retry && session.refresh && await refresh()) {
      return api(method, path, body, { text, retry: false });
    }
    if (r.status === 204) return null;
    if (r.ok && text) return r.text();
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new ApiError(r.status, data.error || { code: "error", message: r.statusText });
    return data;
  }

  async function act(what, doing) {
    say("");
    try {
      const result = await doing();
      if (what) say(typeof what === "function" ? what(result) : what, true);
      return result;
    } catch (e) {
      say(e.message);
      return null;
    }
  }

  // --- logging in and out ---------------------------------------------------------------

  function keepTokens(pair) {
    session.access = pair.accessToken;
    session.refresh = pair.refreshToken;
    clearTimeout(session.timer);
    // refresh a little before the access token runs out
    session.timer = setTimeout(refresh, Math.max(5, pair.expiresIn * 0.8) * 1000);
  }

  async function refresh() {
    if (!session.refresh) return false;
    try {
      const r = await fetch("/refresh", { method: "POST", headers: { "Content-Type": "application/json" },
                                          body: JSON.stringify({ refreshToken: session.refresh }) });
      if (!r.ok) throw new Error("refresh refused");
      keepTokens(await r.json());
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ token: session.access }));
      }
      return true;
    } catch (e) {
      loggedOut("Your session has ended: please log in again.");
      return false;
    }
  }

  async function logIn(event) {
    event.preventDefault();
    $("login-message").textContent = "";
    const username = $("username").value.trim(), password = $("password").value;
    try {
      keepTokens(await api("POST", "/login", { username, password }, { retry: false }));
      const me = await api("GET", "/user");
      if (me.role !== "operator") {
        await api("POST", "/logout").catch(() => null);
        forget();
        throw new Error("This account is not an operator account.");
      }
      session.username = me.username;
      $("password").value = "";
      showDesk(true);
      connect();
    } catch (e) {
      forget();
      $("login-message").textContent = e.message;
    }
  }

  function forget() {
    clearTimeout(session.timer);
    Object.assign(session, { access: null, refresh: null, timer: null, username: "" });
    if (socket) socket.close(1000, "logged out");
    socket = null;
  }

  function loggedOut(message) {
    forget();
    showDesk(false);
    $("login-message").textContent = message || "";
  }

  async function logOut() {
    await api("POST", "/logout", undefined, { retry: false }).catch(() => null);
    loggedOut("You are logged out.");
  }

  function logOutOnClose() {
    // the page goes away: end the session on the server too (keepalive outlives the page)
    if (session.access) {
      fetch("/logout", { method: "POST", keepalive: true,
                         headers: { "Content-Type": "application/json",
                                    Authorization: `Bearer ${session.access}` } });
    }
    forget();
  }

  function showDesk(on) {
    $("login").hidden = on;
    $("desk").hidden = !on;
    for (const id of ["link", "state", "who", "logout"]) $(id).hidden = !on;
    $("who").textContent = on ? session.username : "";
    if (on) {
      lastEventId = 0;
      $("events").replaceChildren();
      say("");
    } else {
      $("panel-link").hidden = true;
      $("username").focus();
    }
  }

  // --- the live socket ------------------------------------------------------------------

  function showLink(live) {
    $("link").textContent = live ? "live" : "reconnecting…";
    $("link").className = live ? "link live" : "link reconnecting";
    $("desk").classList.toggle("stale", !live);
  }

  function connect() {
    if (!session.access) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/live/console`);
    socket = ws;
    ws.addEventListener("open", () => {
      const hello = { token: session.access };
      if (lastEventId) hello.after = lastEventId;
      ws.send(JSON.stringify(hello));
    });
    ws.addEventListener("message", (e) => {
      retryMs = RETRY_MIN_MS;
      showLink(true);
      receive(JSON.parse(e.data));
    });
    ws.addEventListener("close", async (e) => {
      if (socket !== ws || !session.access) return;  // logged out or replaced
      showLink(false);
      if (e.code === 4403) return loggedOut("This account may not use the console.");
      if (e.code === 4401 && !await refresh()) return;
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    });
  }

  function receive(message) {
    if (message.machine) showMachine(message.machine);
    if (message.events) showEvents(message.events);
  }

  // --- drawing the machine ---------------------------------------------------------------

  function showMachine(m) {
    machine = m;
    const state = m.state.replace(/_/g, " ");
    $("state").textContent = state;
    $("state").className = "badge " + m.state;
    $("fact-state").textContent = state;
    $("fact-credit").textContent = money(m.panelCredit);
    $("fact-change").textContent = m.exactChangeOnly ? "exact change only" : "can give change";
    $("fact-ledger").textContent = m.ledgerBalanced ? "balanced" : "NOT balanced";
    $("panel-link").hidden = !m.simulated;
    const faults = m.faults.map((f) => element("li", "", `${f.device}: ${f.reason}`));
    $("faults").replaceChildren(...(faults.length ? faults : [element("li", "none", "none")]));
    $("service").textContent = m.state === "service" ? "Leave service mode" : "Enter service mode";
    showSlots(m.slots);
    showCoins(m.coins);
    showDevices(m);
  }

  // who each payment device said it is at start-up (ccTalk identity)
  function identityText(id) {
    if (!id) return "not identified (no answer yet, or a pulse device)";
    const name = [id.manufacturer, id.productCode].filter(Boolean).join(" ") || "unknown";
    const parts = [name];
    if (id.serialNumber) parts.push(`serial ${id.serialNumber}`);
    if (id.softwareRevision) parts.push(`software ${id.softwareRevision}`);
    if (id.coinId) parts.push(`coin ${id.coinId}`);
    return parts.join(", ");
  }

  function showDevices(m) {
    const rows = [["coin acceptor", m.acceptor && m.acceptor.identity]];
    for (const h of m.hoppers || []) rows.push([`${money(h.coin)} hopper`, h.identity]);
    $("devices").replaceChildren(...rows.map(([what, id]) =>
      element("li", "", `${what}: ${identityText(id)}`)));
  }

  function cell(label, ...children) {
    const td = element("td");
    td.dataset.label = label;
    td.append(...children);
    return td;
  }

  // An input keeps what the operator typed until it is saved; otherwise it follows the machine.
  function follow(input, value) {
    if (input.value === input.dataset.server || input.dataset.server === undefined) {
      input.value = value;
    }
    input.dataset.server = value;
  }

  function numberInput(label, step, min, max) {
    const input = element("input");
    Object.assign(input, { type: "number", step, min, inputMode: step === "1" ? "numeric" : "decimal" });
    if (max !== undefined) input.max = max;
    input.setAttribute("aria-label", label);
    return input;
  }

  function slotRow(code) {
    const tr = element("tr");
    tr.dataset.slot = code;
    const price = numberInput(`price of ${code}`, "0.05", "0");
    const stock = numberInput(`stock of ${code}`, "1", "0");
    const save = element("button", "", "Save");
    save.type = "button";
    save.setAttribute("aria-label", `save ${code}`);
    save.addEventListener("click", () => saveSlot(tr));
    const clear = element("button", "danger", "Clear fault");
    clear.type = "button";
    clear.setAttribute("aria-label", `clear the fault of ${code}`);
    clear.title = "Checked the spiral: enter and leave service mode, which clears the fault";
    clear.addEventListener("click", clearSlotFault);
    const cap = element("span", "capacity");
    th(tr, code);
    tr.append(cell("Product", element("span", "name")), cell("Price", price),
              cell("Stock", stock, cap), cell("Status", element("span", "status")),
              cell("", element("span", "cells")));
    tr.querySelector(".cells").append(save, clear);
    Object.assign(tr, { price, stock, save, clear, cap });
    return tr;
  }

  function group(...children) {
    const span = element("span", "set");
    span.append(...children);
    return span;
  }

  function th(tr, text) {
    const head = element("th", "", text);
    head.scope = "row";
    head.dataset.label = "Slot";
    tr.append(head);
  }

  function showSlots(slots) {
    const body = $("slots").tBodies[0];
    for (const s of slots) {
      let tr = body.querySelector(`tr[data-slot="${CSS.escape(s.slot)}"]`);
      if (!tr) body.append(tr = slotRow(s.slot));
      const p = s.product;
      tr.dataset.productId = p ? p.id : "";
      tr.querySelector(".name").textContent = p ? p.productName : "—";
      follow(tr.price, p ? money(p.cost) : "");
      follow(tr.stock, p ? String(p.amountAvailable) : "");
      tr.stock.max = s.capacity;
      tr.cap.textContent = `/ ${s.capacity}`;
      for (const el of [tr.price, tr.stock, tr.save]) el.hidden = !p;
      tr.cap.hidden = !p;
      const broken = s.status !== "ok";
      const status = tr.querySelector(".status");
      status.textContent = broken ? `out of order${s.reason ? ": " + s.reason : ""}` :
        !p ? "empty" : p.amountAvailable ? "ok" : "sold out";
      status.className = "status " + (broken ? "status-bad" : p ? "status-ok" : "muted");
      tr.classList.toggle("empty", !p && !broken);
      tr.classList.toggle("out-of-order", broken);
      tr.clear.hidden = !broken;
    }
  }

  // what the operator typed, as the JSON the API expects (the API says what is wrong with it)
  function cents(text) {
    const value = Number(text);
    return text.trim() !== "" && Number.isFinite(value) &&
      Math.abs(value * 100 - Math.round(value * 100)) < 1e-6 ? Math.round(value * 100) : text;
  }

  function count(text) {
    const value = Number(text);
    return text.trim() !== "" && Number.isInteger(value) ? value : text;
  }

  async function saveSlot(tr) {
    const change = {};
    if (tr.price.value !== tr.price.dataset.server) change.cost = cents(tr.price.value);
    if (tr.stock.value !== tr.stock.dataset.server) change.amountAvailable = count(tr.stock.value);
    if (!Object.keys(change).length) return say(`${tr.dataset.slot}: nothing changed`, true);
    const product = await act((p) => `${tr.dataset.slot}: ${p.productName} at ${money(p.cost)}, ` +
                                      `${p.amountAvailable} in stock`,
                              () => api("PUT", `/product/${tr.dataset.productId}`, change));
    if (product) {
      tr.price.dataset.server = tr.price.value = money(product.cost);
      tr.stock.dataset.server = tr.stock.value = String(product.amountAvailable);
    }
  }

  async function setService(enabled) {
    return api("POST", "/machine/service", { enabled });
  }

  async function clearSlotFault() {
    // the operator's way: service mode, and leaving it clears the slots checked meanwhile
    await act("Left service mode: faults and out-of-order slots cleared", async () => {
      if (machine && machine.state !== "service") await setService(true);
      return setService(false);
    });
  }

  function coinRow(coin) {
    const tr = element("tr");
    tr.dataset.coin = coin;
    const meter = element("meter");
    meter.setAttribute("aria-label", `${money(coin)} hopper level`);
    const input = numberInput(`coins in the ${money(coin)} hopper`, "1", "0");
    const save = element("button", "", "Set");
    save.type = "button";
    save.setAttribute("aria-label", `set the ${money(coin)} hopper`);
    save.addEventListener("click", () => setHopper(tr));
    th(tr, money(coin));
    tr.firstChild.dataset.label = "Coin";
    tr.append(cell("Hopper", meter, element("span", "level")), cell("Set to", group(input, save)),
              cell("Cashbox", element("span", "cashbox")));
    Object.assign(tr, { meter, input });
    return tr;
  }

  function showCoins(coins) {
    const body = $("coins").tBodies[0];
    for (const c of coins) {
      let tr = body.querySelector(`tr[data-coin="${c.coin}"]`);
      if (!tr) body.append(tr = coinRow(c.coin));
      Object.assign(tr.meter, { min: 0, max: c.capacity, value: c.payout });
      tr.querySelector(".level").textContent =
        ` ${c.payout} / ${c.capacity}` + (c.fault ? ` · ${c.fault}` : "");
      tr.input.max = c.capacity;
      follow(tr.input, String(c.payout));
      tr.querySelector(".cashbox").textContent = `${c.cashbox} (${money(c.cashbox * c.coin)})`;
    }
    const total = coins.reduce((sum, c) => sum + c.coin * c.cashbox, 0);
    $("cashbox-total").textContent = money(total);
  }

  async function setHopper(tr) {
    const coin = Number(tr.dataset.coin);
    const answer = await act((r) => `${money(coin)} hopper: ${r.payout} coins`,
                             () => api("PUT", `/machine/coins/${coin}`, { payout: count(tr.input.value) }));
    if (answer) tr.input.dataset.server = tr.input.value = String(answer.payout);
  }

  // --- the event log and the audit ---------------------------------------------------------

  function describe(data) {
    return Object.entries(data || {}).map(([k, v]) =>
      `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join("  ");
  }

  function showEvents(events) {
    const list = $("events");
    const fresh = list.childElementCount > 0;
    for (const e of events) {
      if (e.id <= lastEventId) continue;
      lastEventId = e.id;
      const li = element("li", fresh ? "new" : "");
      li.dataset.kind = e.kind;
      const when = element("time", "", new Date(e.ts * 1000).toTimeString().slice(0, 8));
      when.dateTime = new Date(e.ts * 1000).toISOString();
      li.append(when, element("span", "kind", e.kind), element("span", "data", describe(e.data)));
      list.prepend(li);
    }
    while (list.childElementCount > MAX_LOG_ROWS) list.lastElementChild.remove();
  }

  async function downloadAudit() {
    const text = await act("EVA-DTS report downloaded", () => api("GET", "/machine/audit", undefined,
                                                                  { text: true }));
    if (text === null) return;
    const a = element("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    a.download = `eva-dts-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}.txt`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", logOut);
  $("service").addEventListener("click", () => {
    const leaving = machine && machine.state === "service";
    act(leaving ? "Left service mode" : "Service mode on", () => setService(!leaving));
  });
  $("collect").addEventListener("click", () =>
    act((r) => `Collected ${money(r.collected)} from the cashbox`,
        () => api("POST", "/machine/cashbox/collect")));
  $("audit").addEventListener("click", downloadAudit);
  window.addEventListener("pagehide", logOutOnClose);
  showDesk(false);
})();
