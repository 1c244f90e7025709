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

  // The tiles, keys, coin buttons and hopper rows come drawn in the page (no shift while it
  // loads): the script only listens to them and fills them in.
  function buildControls() {
    $("keypad").addEventListener("click", (e) => {
      const key = e.target.closest("button[data-key]");
      if (key) act("POST", "/sim/press", { keys: key.dataset.key });
    });
    $("coins").addEventListener("click", async (e) => {
      const b = e.target.closest("button[data-coin]");
      if (!b) return;
      const coin = Number(b.dataset.coin);
      const answer = await act("POST", "/sim/coin", { coin });
      if (answer && answer.result && answer.result !== "accepted") {
        say(`coin ${money(coin)}: ${answer.result}`);
      }
    });
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

  // Live regions speak only of changes: a value is written only when it differs.
  function write(el, value) {
    if (el.textContent !== value) el.textContent = value;
  }

  function showLcd(lines) {
    const [one, two] = [0, 1].map((i) => (lines[i] || "").padEnd(16).slice(0, 16));
    if ($("lcd1").textContent === one && $("lcd2").textContent === two) return;
    $("lcd1").textContent = one;
    $("lcd2").textContent = two;
    // the slot the display speaks of ("A1 PRICE 0.65", "VENDING A1") shows its whole name
    const words = new Set(`${one} ${two}`.split(/\s+/));
    for (const el of document.querySelectorAll(".slot")) {
      el.classList.toggle("selected", words.has(el.dataset.slot));
    }
  }

  function showState(state) {
    write($("state"), state.replace(/_/g, " "));
    $("state").className = "badge " + state;
  }

  function showSim(sim) {
    showLcd(sim.display);
    showState(sim.state);
    fillList("tray", sim.tray, (name) => name);
    fillList("cup", sim.returned, (coin) => money(coin));
    $("card").hidden = !sim.card;  // a machine with a card reader
  }

  function showSlot(el, entry) {
    const p = entry ? entry.product : null;
    const broken = !!entry && entry.status !== "ok";
    el.classList.toggle("empty", !p);
    el.classList.toggle("sold-out", !!p && p.amountAvailable === 0);
    el.classList.toggle("out-of-order", broken);
    write(el.querySelector(".name"), p ? p.productName : "");
    write(el.querySelector(".price"), p ? money(p.cost) : "");
    const status = broken ? "out of order" :
      !p ? "" : p.amountAvailable ? `${p.amountAvailable} left` : "sold out";
    write(el.querySelector(".stock"), status);
    // hovering shows what the tile may cut: the whole name, why the slot is out of order
    el.title = [p ? p.productName : "", broken && entry.reason ? entry.reason : ""]
      .filter(Boolean).join(": ");
  }

  function showCoins(coins) {
    for (const c of coins) {
      const tr = $("hoppers").querySelector(`tr[data-coin="${c.coin}"]`);
      if (!tr) continue;
      Object.assign(tr.querySelector("meter"), { max: c.capacity, value: c.payout });
      const hopper = tr.querySelector(".payout");
      write(hopper, ` ${c.payout}`);
      let badge = tr.querySelector(".badge");
      if (c.fault && !badge) hopper.after(badge = element("span", "badge bad"));
      if (badge && !c.fault) badge.remove();
      if (badge && c.fault) write(badge, c.fault);
      write(tr.querySelector(".cashbox"), String(c.cashbox));
    }
    const cashbox = coins.reduce((sum, c) => sum + c.coin * c.cashbox, 0);
    write($("cashbox-total"), money(cashbox));
  }

  function showMachine(m) {
    showState(m.state);
    const bySlot = Object.fromEntries(m.slots.map((s) => [s.slot, s]));
    for (const el of document.querySelectorAll(".slot")) showSlot(el, bySlot[el.dataset.slot]);
    showCoins(m.coins);
    write($("credit"), money(m.panelCredit));
    const faults = m.faults.map((f) => `${f.device}: ${f.reason}`);
    fillList("faults", faults.length ? faults : [""], (f) => f || "none");
    $("faults").firstElementChild.classList.toggle("none", !faults.length);
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
    write($("link"), live ? "live" : "reconnecting…");
    $("link").className = live ? "link live" : "link reconnecting";
    $("main").classList.toggle("stale", !live);
    if (!live) showState("offline");
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

  buildControls();
  buildFaultMenu();
  connect();
})();
