// The operator's round in the console: sales (a chart per hour today or per day for
// 30 days, drawn with the vendored uPlot, and the top products) and the pick list (what to
// bring, low slots marked, a minimum level per slot, a print view).  It reads through the
// console's own session (window.vendingConsole, console.js); every value is written with
// textContent; it re-reads when the live feed says something sold or changed.
"use strict";
(() => {
  const board = window.vendingConsole;
  if (!board) return;
  const money = (cents) => (cents / 100).toFixed(2);
  const SALES = "/machine/sales" + "?days=30";
  const REFRESH_MS = 300, TOP = 5;
  const CHANGES = new Set(["vend_delivered", "stock_low", "product_changed", "hopper_adjusted",
                           "cashbox_collected", "service"]);
  const timers = new Map();
  let sales = null, mode = "today", chart = null, machine = null;

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function button(text, onClick, className) {
    const b = element("button", className || "", text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  // --- the two cards, built once ----------------------------------------------------------

  function card(id, title, note) {
    const section = element("section", "card wide " + id);
    section.id = id;
    const h = element("h2", "", title + " ");
    h.id = id + "-h";
    if (note) h.append(element("small", "muted", note));
    section.setAttribute("aria-labelledby", h.id);
    section.append(h);
    return section;
  }

  function buildSales() {
    const section = card("sales-card", "Sales");
    const tabs = element("div", "round-tabs");
    tabs.setAttribute("role", "group");
    tabs.setAttribute("aria-label", "sales period");
    const today = button("Today, per hour", () => show("today"));
    const month = button("30 days, per day", () => show("month"));
    today.id = "sales-today";
    month.id = "sales-month";
    tabs.append(today, month);
    const summary = element("p", "sales-summary");
    summary.id = "sales-summary";
    summary.setAttribute("aria-live", "polite");
    const plot = element("div", "sales-chart");
    plot.id = "sales-chart";
    plot.setAttribute("role", "img");
    const topH = element("h3", "", "Top products ");
    topH.append(element("small", "muted", "(30 days)"));
    const top = element("ol", "top-products");
    top.id = "top-products";
    const media = element("p", "muted sales-media");
    media.id = "sales-media";
    section.append(tabs, summary, plot, topH, top, media);
    return section;
  }

  function buildPicklist() {
    const section = card("picklist-card", "Pick list", "(what to bring to fill the machine)");
    const table = element("table", "stack picklist");
    table.id = "picklist";
    const head = element("tr");
    for (const name of ["Slot", "Product", "Stock", "Low at", "Bring"]) {
      const th = element("th", "", name);
      th.scope = "col";
      head.append(th);
    }
    table.append(element("thead"), element("tbody"));
    table.tHead.append(head);
    const totals = element("div", "picklist-totals");
    const products = element("ul", "totals");
    products.id = "picklist-products";
    const coins = element("ul", "totals");
    coins.id = "picklist-coins";
    totals.append(element("h3", "", "Products"), products, element("h3", "", "Coins"), coins);
    const note = element("p", "message picklist-message");
    note.id = "picklist-message";
    note.setAttribute("role", "status");
    const actions = element("div", "actions no-print");
    const view = button("Print view", () => printView(true));
    view.id = "picklist-view";
    const print = button("Print", () => window.print(), "primary print-only-button");
    print.id = "picklist-print";
    const back = button("Back to the console", () => printView(false), "print-only-button");
    back.id = "picklist-back";
    actions.append(view, print, back);
    const stamp = element("p", "muted print-stamp");
    stamp.id = "picklist-stamp";
    section.append(stamp, table, totals, note, actions);
    return section;
  }

  // the print view: the pick list alone, on screen and on paper
  function printView(on, focus = true) {
    document.body.classList.toggle("print-picklist", on);
    if (on) $("picklist-stamp").textContent = `Pick list, ${new Date().toLocaleString()}`;
    if (focus) $(on ? "picklist-print" : "picklist-view").focus();
  }

  const $ = (id) => document.getElementById(id);
  const desk = $("desk");
  desk.append(buildSales(), buildPicklist());

  // --- sales -----------------------------------------------------------------------------

  function series() {
    if (mode === "today") {
      const today = sales.days[sales.days.length - 1].date;
      const hours = sales.hours.filter((h) => h.start.slice(0, 10) === today);
      return { labels: hours.map((h) => h.start.slice(11, 13) + ":00"), rows: hours,
               title: "Today, per hour" };
    }
    return { labels: sales.days.map((d) => shortDate(d.date)), rows: sales.days,
             title: "The last 30 days, per day" };
  }

  function shortDate(iso) {
    const [y, m, d] = iso.split("-").map(Number);
    return new Date(y, m - 1, d).toLocaleDateString(undefined, { day: "numeric", month: "short" });
  }

  function drawChart() {
    const box = $("sales-chart");
    const { labels, rows, title } = series();
    const count = rows.reduce((n, r) => n + r.count, 0);
    const cents = rows.reduce((n, r) => n + r.cents, 0);
    $("sales-summary").textContent = `${title}: ${count} sold, ${money(cents)}`;
    box.setAttribute("aria-label", `${title}: ` + rows.map((r, i) =>
      `${labels[i]} ${r.count} sold ${money(r.cents)}`).join("; "));
    box.dataset.bars = String(rows.length);
    box.dataset.total = String(cents);
    if (chart) chart.destroy();
    chart = null;
    if (typeof uPlot !== "function") {
      box.replaceChildren(element("p", "muted", "The chart library did not load."));
      return;
    }
    box.replaceChildren();
    const x = rows.map((_, i) => i);
    const y = rows.map((r) => r.cents / 100);
    chart = new uPlot({
      width: Math.max(240, box.clientWidth), height: 220,
      legend: { show: true },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      scales: { x: { time: false, range: () => [-0.5, Math.max(rows.length, 1) - 0.5] },
                y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [
        { values: (_u, ticks) => ticks.map((t) => labels[t] ?? ""), incrs: [1, 2, 3, 4, 6, 12],
          space: 44, grid: { show: false } },
        { values: (_u, ticks) => ticks.map((t) => t.toFixed(2)), size: 56 },
      ],
      series: [
        { label: mode === "today" ? "Hour" : "Day", value: (_u, i) => labels[i] ?? "–" },
        { label: "Sales", stroke: "#1f5f99", fill: "rgba(31, 95, 153, 0.45)", width: 1,
          paths: uPlot.paths.bars({ size: [0.7, 48] }), points: { show: false },
          value: (_u, v, _s, i) => v == null ? "–" : `${money(v * 100)} (${rows[i].count})` },
      ],
    }, [x, y], box);
  }

  function showTop() {
    const top = sales.products.slice(0, TOP);
    const best = Math.max(1, ...top.map((p) => p.count));
    const items = top.map((p) => {
      const li = element("li");
      const meter = element("meter");
      Object.assign(meter, { min: 0, max: best, value: p.count });
      meter.setAttribute("aria-hidden", "true");
      const name = element("span", "name", `${p.productName} `);
      name.append(element("small", "muted", p.slot));
      li.append(name, meter, element("span", "figure", `${p.count} sold · ${money(p.cents)}`));
      return li;
    });
    $("top-products").replaceChildren(...(items.length ? items :
      [element("li", "muted none", "nothing sold in 30 days")]));
    $("sales-media").textContent = sales.media.length ? "Paid by: " + sales.media.map((m) =>
      `${m.medium} ${m.count} (${money(m.cents)})`).join(", ") : "";
  }

  function show(which) {
    mode = which;
    $("sales-today").setAttribute("aria-pressed", String(mode === "today"));
    $("sales-month").setAttribute("aria-pressed", String(mode === "month"));
    if (sales) drawChart();
  }

  async function loadSales() {
    try {
      sales = await board.api("GET", SALES);
      drawChart();
      showTop();
    } catch (e) {
      $("sales-summary").textContent = `Sales could not be read: ${e.message}`;
    }
  }

  new ResizeObserver(() => {
    if (chart) chart.setSize({ width: Math.max(240, $("sales-chart").clientWidth), height: 220 });
  }).observe($("sales-chart"));

  // --- the pick list ----------------------------------------------------------------------

  function productIdOf(slot) {
    const s = machine && machine.slots.find((x) => x.slot === slot);
    return s && s.product ? s.product.id : null;
  }

  // One row per slot, kept across reads: a level being typed is not overwritten by a refresh.
  function pickRow(slot) {
    const tr = element("tr");
    tr.dataset.slot = slot;
    const th = element("th", "", slot);
    th.scope = "row";
    th.dataset.label = "Slot";
    const level = element("input");
    Object.assign(level, { type: "number", min: 0, step: 1, inputMode: "numeric" });
    level.setAttribute("aria-label", `low level of ${slot}`);
    const save = button("Set", () => saveLevel(slot, level), "small");
    save.setAttribute("aria-label", `set the low level of ${slot}`);
    const printed = element("span", "print-value");
    const set = element("span", "set");
    set.append(level, save, printed);
    const name = element("span"), stock = element("span"), mark = element("strong", "low-mark");
    const bring = element("strong", "bring");
    tr.append(th, cell("Product", name), cell("Stock", stock, mark), cell("Low at", set),
              cell("Bring", bring));
    Object.assign(tr, { level, printed, name, stock, mark, bring });
    return tr;
  }

  function cell(label, ...children) {
    const td = element("td");
    td.dataset.label = label;
    td.append(...children);
    return td;
  }

  function showPicklist(p) {
    const body = $("picklist").tBodies[0];
    const keep = new Set(p.slots.map((s) => s.slot));
    for (const tr of [...body.rows]) if (!keep.has(tr.dataset.slot)) tr.remove();
    for (const s of p.slots) {
      let tr = [...body.rows].find((r) => r.dataset.slot === s.slot);
      if (!tr) tr = pickRow(s.slot);
      body.append(tr);  // in the order given (the machine's front)
      const low = s.amountAvailable <= s.minLevel;
      tr.classList.toggle("low", low);
      tr.classList.toggle("full", s.bring === 0);
      tr.name.textContent = s.productName;
      tr.stock.textContent = `${s.amountAvailable} / ${s.capacity}`;
      tr.mark.textContent = low ? " low" : "";
      tr.bring.textContent = String(s.bring);
      tr.printed.textContent = String(s.minLevel);
      tr.level.max = s.capacity;
      if (tr.level.value === tr.level.dataset.server || tr.level.dataset.server === undefined) {
        tr.level.value = String(s.minLevel);
      }
      tr.level.dataset.server = String(s.minLevel);
    }
    if (!p.slots.length) body.replaceChildren(emptyRow());
    const wanted = p.products.filter((x) => x.bring > 0);
    $("picklist-products").replaceChildren(...(wanted.length ? wanted.map((x) =>
      element("li", "", `${x.productName}: ${x.bring}`)) : [element("li", "muted", "nothing")]));
    const coins = p.coins.filter((c) => c.bring > 0);
    const value = coins.reduce((n, c) => n + c.coin * c.bring, 0);
    $("picklist-coins").replaceChildren(...coins.map((c) =>
      element("li", "", `${money(c.coin)}: ${c.bring} coins (hopper ${c.payout} / ${c.capacity})`)),
      element("li", coins.length ? "total" : "muted",
              coins.length ? `in all ${money(value)}` : "nothing"));
    markLowSlots(p.slots);
  }

  function emptyRow() {
    const tr = element("tr", "empty");
    const td = element("td", "muted", "No slot holds a product.");
    td.colSpan = 5;
    tr.append(td);
    return tr;
  }

  // the console's slot table: low slots stand out there too
  function markLowSlots(slots) {
    const low = new Set(slots.filter((s) => s.amountAvailable <= s.minLevel).map((s) => s.slot));
    for (const tr of document.querySelectorAll("#slots tbody tr[data-slot]")) {
      tr.classList.toggle("low", low.has(tr.dataset.slot));
    }
  }

  async function saveLevel(slot, input) {
    const id = productIdOf(slot);
    const note = $("picklist-message");
    const level = Number(input.value);
    if (id === null) return;
    try {
      const product = await board.api("PUT", `/product/${id}`,
                                      { minLevel: Number.isInteger(level) ? level : input.value });
      note.textContent = `${slot}: low at ${product.minLevel}`;
      note.className = "message picklist-message ok";
      input.value = input.dataset.server = String(product.minLevel);
      await loadPicklist();
    } catch (e) {
      note.textContent = `${slot}: ${e.message}`;
      note.className = "message picklist-message";
    }
  }

  async function loadPicklist() {
    try {
      showPicklist(await board.api("GET", "/machine/picklist"));
    } catch (e) {
      $("picklist-message").textContent = `The pick list could not be read: ${e.message}`;
    }
  }

  // --- following the machine ---------------------------------------------------------------

  function soon(what) {  // one read for a burst of changes
    clearTimeout(timers.get(what));
    timers.set(what, setTimeout(what, REFRESH_MS));
  }

  board.on("desk", (on) => {
    if (on) {
      show("today");
      loadSales();
      loadPicklist();
    } else {
      printView(false, false);
      if (chart) chart.destroy();
      chart = sales = machine = null;
    }
  });
  board.on("machine", (m) => {
    machine = m;
    soon(loadPicklist);
  });
  board.on("events", (events) => {
    if (events.some((e) => CHANGES.has(e.kind))) {
      soon(loadSales);
      soon(loadPicklist);
    }
  });
})();
