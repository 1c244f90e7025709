// The web front panel: draws what /live/panel pushes, acts through /sim/*.
// Every value is written with textContent; nothing polls.
"use strict";
(() => {
  const LAYOUT = JSON.parse(document.getElementById("layout").textContent);
  const $ = (id) => document.getElementById(id);
  const money = (cents) => (cents / 100).toFixed(2);
  const RETRY_MIN_MS = 250, RETRY_MAX_MS = 4000;
  let retryMs = RETRY_MIN_MS;

  function say(text, ok) {
    $("message").textContent = text || "";
    $("message").className = ok ? "message ok" : "message";
  }

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  async function call(method, path, body) {
    // JSON even without a body: the simulator refuses a POST of any other type
    const options = { method, headers: { "Content-Type": "application/json" } };
    if (body !== undefined) options.body = JSON.stringify(body);
    const r = await fetch(path, options);
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
    return data;
  }

  // Actions: the page shows their effect when the machine pushes it, not from the answer.
  async function act(method, path, body) {
    say("");
    try {
      return await call(method, path, body);
    } catch (e) {
      say(e.message);
      return null;
    }
  }

  function button(text, data, onClick) {
    const b = element("button", "", text);
    b.type = "button";
    Object.assign(b.dataset, data);
    b.addEventListener("click", onClick);
    return b;
  }

  function buildSlots() {
    const slots = $("slots");
    slots.style.setProperty("--columns", String(LAYOUT.columns));
    for (const row of LAYOUT.rows) {
      for (let c = 1; c <= LAYOUT.columns; c++) {
        const code = row + c;
        const el = element("div", "slot empty");
        el.setAttribute("role", "listitem");
        el.dataset.slot = code;
        for (const part of ["code", "name", "price", "stock"]) el.append(element("span", part));
        el.querySelector(".code").textContent = code;
        slots.append(el);
      }
    }
  }

  function buildControls() {
    for (const line of LAYOUT.keys) {
      for (const key of line) {
        const b = button(key, { key }, () => act("POST", "/sim/press", { keys: key }));
        b.setAttribute("aria-label", key === "*" ? "* coin return" : key === "#" ? "# clear" : key);
        $("keypad").append(b);
      }
    }
    for (const coin of LAYOUT.coins) {
      const b = button(String(coin), { coin }, async () => {
        const answer = await act("POST", "/sim/coin", { coin });
        if (answer && answer.result && answer.result !== "accepted") {
          say(`coin ${coin}: ${answer.result}`);
        }
      });
      b.title = `Insert ${money(coin)}`;
      b.setAttribute("aria-label", `insert ${money(coin)}`);
      $("coins").append(b);
    }
    $("take").addEventListener("click", () => act("POST", "/sim/tray/take"));
    $("card").addEventListener("click", () => act("POST", "/sim/card", { funds: 500 }));
  }

  function buildFaultMenu() {
    const devices = Object.keys(LAYOUT.faults).filter((d) => d !== "slot");
    for (const row of LAYOUT.rows) {
      for (let c = 1; c <= LAYOUT.columns; c++) devices.push(`slot:${row}${c}`);
    }
    for (const d of devices) $("fault-device").add(new Option(d, d));
    $("fault-device").addEventListener("change", fillFaults);
    fillFaults();
    $("fault-apply").addEventListener("click", async () => {
      const device = $("fault-device").value, fault = $("fault-name").value;
      if (await act("POST", "/sim/fault", { device, fault })) say(`${device}: ${fault}`, true);
    });
  }

  function fillFaults() {
    const device = $("fault-device").value;
    const select = $("fault-name");
    select.replaceChildren();
    const names = LAYOUT.faults[device] || LAYOUT.faults[device.split(":")[0]] || [];
    for (const f of [...names, "clear"]) select.add(new Option(f, f));
  }

  function fillList(id, items, render) {
    const ul = $(id);
    const key = JSON.stringify(items);
    if (ul.dataset.items === key) return;  // unchanged: leave the DOM alone
    ul.dataset.items = key;
    ul.replaceChildren(...items.map((item) => element("li", "", render(item))));
  }

  function showLcd(lines) {
    $("lcd1").textContent = (lines[0] || "").padEnd(16).slice(0, 16);
    $("lcd2").textContent = (lines[1] || "").padEnd(16).slice(0, 16);
  }

  function showState(state) {
    $("state").textContent = state.replace(/_/g, " ");
    $("state").className = "badge " + state;
  }

  function showSim(sim) {
    showLcd(sim.display);
    showState(sim.state);
    fillList("tray", sim.tray, (name) => name);
    fillList("cup", sim.returned, (coin) => String(coin));
    $("card").hidden = !sim.card;  // a machine with a card reader
  }

  function showSlot(el, entry) {
    const p = entry ? entry.product : null;
    const broken = !!entry && entry.status !== "ok";
    el.classList.toggle("empty", !p);
    el.classList.toggle("sold-out", !!p && p.amountAvailable === 0);
    el.classList.toggle("out-of-order", broken);
    el.querySelector(".name").textContent = p ? p.productName : "";
    el.querySelector(".price").textContent = p ? money(p.cost) : "";
    el.querySelector(".stock").textContent = broken ? "out of order" :
      !p ? "" : p.amountAvailable ? `${p.amountAvailable} left` : "sold out";
    el.title = broken && entry.reason ? entry.reason : "";
  }

  function showCoins(coins) {
    const rows = coins.map((c) => {
      const tr = element("tr");
      tr.dataset.coin = c.coin;
      const meter = element("meter");
      Object.assign(meter, { min: 0, max: c.capacity, value: c.payout });
      meter.setAttribute("aria-label", `${c.coin} hopper level`);
      const hopper = element("td", "money");
      hopper.append(meter, ` ${c.payout}`);
      if (c.fault) hopper.append(element("span", "badge bad", c.fault));
      tr.append(element("th", "money", money(c.coin)), hopper,
                element("td", "money cashbox", String(c.cashbox)));
      tr.querySelector("th").scope = "row";
      return tr;
    });
    $("hoppers").tBodies[0].replaceChildren(...rows);
    const cashbox = coins.reduce((sum, c) => sum + c.coin * c.cashbox, 0);
    $("cashbox-total").textContent = money(cashbox);
  }

  function showMachine(m) {
    showState(m.state);
    const bySlot = Object.fromEntries(m.slots.map((s) => [s.slot, s]));
    for (const el of document.querySelectorAll(".slot")) showSlot(el, bySlot[el.dataset.slot]);
    showCoins(m.coins);
    $("credit").textContent = money(m.panelCredit);
    const faults = m.faults.map((f) => element("li", "", `${f.device}: ${f.reason}`));
    $("faults").replaceChildren(...(faults.length ? faults : [element("li", "none", "none")]));
  }

  function receive(message) {
    if (message.type === "snapshot") {
      showMachine(message.machine);
      showSim(message.sim);
    } else if (message.type === "machine") {
      showMachine(message.machine);
    } else if (message.type === "display") {
      showLcd(message.lines);
    } else if (message.type === "world") {
      showSim(message.sim);
    }
  }

  function showLink(live) {
    $("link").textContent = live ? "live" : "reconnecting…";
    $("link").className = live ? "link live" : "link reconnecting";
    $("main").classList.toggle("stale", !live);
    if (!live) {
      $("state").textContent = "offline";
      $("state").className = "badge offline";
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/live/panel`);
    ws.addEventListener("message", (e) => {
      if (retryMs !== RETRY_MIN_MS) retryMs = RETRY_MIN_MS;
      showLink(true);
      receive(JSON.parse(e.data));
    });
    ws.addEventListener("close", () => {
      showLink(false);
      setTimeout(connect, retryMs);  // the machine restarts: try again, more slowly each time
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    });
  }

  buildSlots();
  buildControls();
  buildFaultMenu();
  connect();
})();
