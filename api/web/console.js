// The operator console: everything through the JSON API, live over /live/console.
// Tokens live in this script's memory only; every value is written with textContent.
"use strict";
import {
  box, cell, clearFieldError, element, fieldError, follow, group, inMoney, money, numberInput,
  readCount, readMoney, th, write,
} from "./console-dom.js";
import { showEvents } from "./console-log.js";
import { coinTable } from "./console-coins.js";
import { showDevices } from "./console-devices.js";

(() => {
  const $ = (id) => document.getElementById(id);
  const RETRY_MIN_MS = 250, RETRY_MAX_MS = 4000;
  const session = { access: null, refresh: null, timer: null, username: "" };
  let socket = null, retryMs = RETRY_MIN_MS, lastEventId = 0, machine = null;
  // Other console scripts (console-round.js) follow the same data and call the API through
  // this: on("desk" | "machine" | "events", fn) and api(method, path, body).
  const hooks = new EventTarget();
  const tell = (type, detail) => hooks.dispatchEvent(new CustomEvent(type, { detail }));
  window.vendingConsole = Object.freeze({
    api: (method, path, body) => api(method, path, body),
    on: (type, fn) => hooks.addEventListener(type, (e) => fn(e.detail)),
  });
  let faultKeys = null;  // the faults last shown, to tell a new one

  // The message area is a live region that stays in the page; "" empties it.
  function say(text, ok) {
    $("message").className = ok ? "message banner ok" : "message banner";
    write($("message"), text || "");
  }

  // --- the JSON API ---------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, error) {
      const fields = error.fields ? Object.values(error.fields).join(", ") : "";
      super(error.message + (fields && !error.message.includes(fields) ? ` (${fields})` : ""));
      this.status = status;
      this.code = error.code;
      this.fields = error.fields || {};
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

  // An empty field is said once, next to it; the first one wrong takes the focus.
  function loginFieldsOk() {
    const missing = [["username", "Enter your user name."], ["password", "Enter your password."]]
      .filter(([id, text]) => {
        const empty = !$(id).value.trim();
        if (empty) fieldError($(id), text); else clearFieldError($(id));
        return empty;
      });
    if (missing.length) $(missing[0][0]).focus();
    return !missing.length;
  }

  async function logIn(event) {
    event.preventDefault();
    $("login-message").textContent = "";
    if (!loginFieldsOk()) return;
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
      // focus goes where the login led, and the message area says what happened
      $("machine-h").focus();
      say(`Logged in as ${me.username}.`, true);
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
    for (const id of ["link", "state-box", "who", "logout"]) $(id).hidden = !on;
    $("who").textContent = on ? session.username : "";
    if (on) {
      lastEventId = 0;
      faultKeys = null;
      $("events").replaceChildren();
      say("");
    } else {
      say("");
      $("panel-link").hidden = true;
      $("username").focus();
    }
    tell("desk", on);
  }

  // --- the live socket ------------------------------------------------------------------

  function showLink(live) {
    write($("link"), live ? "live" : "reconnecting…");
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
    if (message.events) {
      lastEventId = showEvents($("events"), message.events, lastEventId);
      tell("events", message.events);
    }
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
    showReader(m.reader);
    showFaults(m.faults);
    $("service").textContent = m.state === "service" ? "Leave service mode" : "Enter service mode";
    showSlots(m.slots);
    coins.show(m.coins);
    tell("machine", m);
    showDevices($("devices"), m);
  }

  // A card reader, when the machine has one: its state, card sales, refunds owed to cards.
  function showReader(reader) {
    for (const fact of document.querySelectorAll(".card-fact")) fact.hidden = !reader;
    if (!reader) return;
    $("fact-reader").textContent = reader.device === "ready" ? reader.state : reader.device;
    const sales = reader.sales;
    $("fact-card-sales").textContent = `${sales.count} for ${money(sales.value)}`;
    $("fact-card-owed").textContent = money(sales.refunds);
  }

  // A new fault takes the message area: a success said before it no longer holds.
  function showFaults(list) {
    const texts = list.map((f) => `${f.device}: ${f.reason}`);
    const fresh = faultKeys === null ? [] : texts.filter((t) => !faultKeys.includes(t));
    faultKeys = texts;
    const items = texts.map((t) => element("li", "", t));
    $("faults").replaceChildren(...(items.length ? items : [element("li", "none", "none")]));
    if (fresh.length) say(`New fault: ${fresh.join("; ")}`);
  }

  function slotRow(code) {
    const tr = element("tr");
    tr.dataset.slot = code;
    const price = numberInput(`price of ${code}`, "0.05", "0");
    const stock = numberInput(`stock of ${code}`, "1", "0");
    price.id = `price-${code}`;
    stock.id = `stock-${code}`;
    const save = element("button", "", "Save");
    save.type = "button";
    save.setAttribute("aria-label", `Save ${code}`);
    save.addEventListener("click", () => saveSlot(tr));
    const clear = element("button", "danger", "Clear fault");
    clear.type = "button";
    clear.setAttribute("aria-label", `Clear fault ${code}`);  // the visible words first
    clear.title = "Checked the spiral: enter and leave service mode, which clears the fault";
    clear.addEventListener("click", () => clearSlotFault(tr));
    const cap = element("span", "capacity");
    const status = element("span", "status");
    status.tabIndex = -1;  // where the focus goes once its fault is cleared
    th(tr, code, "Slot");
    tr.append(cell("Product", element("span", "name")), cell("Price", box(price)),
              cell("Stock", box(group(stock, cap))), cell("Status", status),
              cell("", element("span", "cells")));
    tr.querySelector(".cells").append(save, clear);
    Object.assign(tr, { price, stock, save, clear, cap, status });
    return tr;
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
      write(tr.status, broken ? `out of order${s.reason ? ": " + s.reason : ""}` :
        !p ? "empty" : p.amountAvailable ? "ok" : "sold out");
      tr.status.className = "status " + (broken ? "status-bad" : p ? "status-ok" : "muted");
      tr.classList.toggle("empty", !p && !broken);
      tr.classList.toggle("out-of-order", broken);
      // a button that hides under the focus hands it to what replaced it
      if (!broken && document.activeElement === tr.clear) tr.status.focus();
      tr.clear.hidden = !broken;
    }
  }

  // The fields of a row, checked in the words and units the operator typed them in; the
  // API has the last word, and its answer goes next to the field it is about.
  function slotChange(tr) {
    const code = tr.dataset.slot, change = {}, wrong = [];
    for (const input of [tr.price, tr.stock]) clearFieldError(input);
    if (tr.price.value !== tr.price.dataset.server) {
      const price = readMoney(tr.price);
      if (price.problem) wrong.push([tr.price, `Price of ${code}: ${price.problem}.`]);
      else change.cost = price.value;
    }
    if (tr.stock.value !== tr.stock.dataset.server) {
      const stock = readCount(tr.stock, "a number of units");
      const max = Number(tr.stock.max);
      if (!stock.problem && (stock.value < 0 || stock.value > max)) {
        stock.problem = `from 0 to ${max} (the slot holds ${max})`;
      }
      if (stock.problem) wrong.push([tr.stock, `Stock of ${code}: ${stock.problem}.`]);
      else change.amountAvailable = stock.value;
    }
    return { change, wrong };
  }

  function showWrong(wrong) {
    for (const [input, text] of wrong) fieldError(input, text);
    if (wrong.length) {
      say("");
      wrong[0][0].focus();
    }
  }

  async function saveSlot(tr) {
    const code = tr.dataset.slot, { change, wrong } = slotChange(tr);
    if (wrong.length) return showWrong(wrong);
    if (!Object.keys(change).length) return say(`${code}: nothing changed`, true);
    say("");
    try {
      const p = await api("PUT", `/product/${tr.dataset.productId}`, change);
      tr.price.dataset.server = tr.price.value = money(p.cost);
      tr.stock.dataset.server = tr.stock.value = String(p.amountAvailable);
      say(`${code}: ${p.productName} at ${money(p.cost)}, ${p.amountAvailable} in stock`, true);
    } catch (e) {
      const fields = e.fields || {};
      const about = [[tr.price, "cost", `Price of ${code}: `, inMoney],
                     [tr.stock, "amountAvailable", `Stock of ${code}: `, String]]
        .filter(([, key]) => fields[key])
        .map(([input, key, head, units]) => [input, `${head}${units(fields[key])}.`]);
      if (about.length) showWrong(about); else say(e.message);
    }
  }

  async function setService(enabled) {
    return api("POST", "/machine/service", { enabled });
  }

  async function clearSlotFault(tr) {
    // the operator's way: service mode, and leaving it clears the slots checked meanwhile
    const done = await act(`${tr.dataset.slot} cleared: service mode entered and left, ` +
                           "faults and out-of-order slots cleared", async () => {
      if (machine && machine.state !== "service") await setService(true);
      return setService(false);
    });
    if (done) tr.status.focus();  // the button hides: the focus goes to the slot's status
  }

  const coins = coinTable({ api, act, say });

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
