// The console's coin table: each hopper's level, its refill and the cashbox.
// A refill is typed either as the count now in the hopper or as the coins added; the two
// fields follow each other, and the one typed last is what the operator meant.
"use strict";
import {
  cell, clearFieldError, element, fieldError, group, money, numberInput, readCount, th, write,
} from "./console-dom.js";

function label(input, text, coin) {
  const l = element("label", "", text);
  l.htmlFor = input.id;
  l.append(element("span", "visually-hidden", ` in the ${money(coin)} hopper`));
  return l;
}

// Keep the field the operator did not type in agreeing with the one they did.
function sync(tr) {
  const count = Number(tr.count.value), added = Number(tr.added.value);
  if (tr.typed === "added") {
    if (tr.added.value.trim() !== "" && Number.isInteger(added)) {
      tr.count.value = String(tr.base + added);
    }
  } else if (tr.typed === "count") {
    tr.added.value = tr.count.value.trim() !== "" && Number.isInteger(count) ?
      String(count - tr.base) : "";
  } else {
    tr.count.value = String(tr.base);
    tr.added.value = "";
  }
}

// The count to send, or the message for the field typed in, in its own terms.
function target(tr) {
  const hopper = `the ${money(Number(tr.dataset.coin))} hopper`;
  const cap = tr.capacity, base = tr.base;
  if (tr.typed === "added") {
    const n = readCount(tr.added, "a number of coins, like 30 (or -5 for coins taken out)");
    if (n.problem) return { input: tr.added, problem: `Coins added to ${hopper}: ${n.problem}.` };
    if (base + n.value > cap) {
      return { input: tr.added, problem: `Coins added to ${hopper}: at most ${cap - base} ` +
               `more fit (it holds ${base} of ${cap}).` };
    }
    if (base + n.value < 0) {
      return { input: tr.added, problem: `Coins added to ${hopper}: at least ${-base} ` +
               `(it holds ${base}).` };
    }
    return { payout: base + n.value };
  }
  const n = readCount(tr.count, "the number of coins now in the hopper");
  if (!n.problem && (n.value < 0 || n.value > cap)) n.problem = `from 0 to ${cap}`;
  if (n.problem) return { input: tr.count, problem: `Count of ${hopper}: ${n.problem}.` };
  return { payout: n.value };
}

/** The coin table, drawn from the machine state; ``api``/``act``/``say`` are the page's. */
export function coinTable({ api, act, say }) {
  const body = document.querySelector("#coins tbody");

  async function setHopper(tr) {
    for (const input of [tr.count, tr.added]) clearFieldError(input);
    const want = target(tr);
    if (want.problem) {
      say("");
      fieldError(want.input, want.problem);
      want.input.focus();
      return;
    }
    const coin = Number(tr.dataset.coin), before = tr.base;
    const answer = await act((r) => `${money(coin)} hopper: ${r.payout} coins` +
                               ` (${r.payout >= before ? "+" : "−"}${Math.abs(r.payout - before)})`,
                             () => api("PUT", `/machine/coins/${coin}`, { payout: want.payout }));
    if (answer) {
      tr.typed = null;
      tr.base = answer.payout;
      sync(tr);
    }
  }

  function row(coin) {
    const tr = element("tr");
    tr.dataset.coin = coin;
    const meter = element("meter");
    meter.setAttribute("aria-label", `${money(coin)} hopper level`);
    const count = numberInput("", "1", "0");
    const added = numberInput("", "1");
    count.id = `count-${coin}`;
    added.id = `added-${coin}`;
    added.placeholder = "+0";
    const save = element("button", "", "Set");
    save.type = "button";
    save.setAttribute("aria-label", `Set the ${money(coin)} hopper`);
    save.addEventListener("click", () => setHopper(tr));
    for (const [input, kind] of [[count, "count"], [added, "added"]]) {
      input.addEventListener("input", () => {
        tr.typed = kind;
        sync(tr);
      });
      input.addEventListener("keydown", (e) => { if (e.key === "Enter") setHopper(tr); });
    }
    th(tr, money(coin), "Coin");
    const refill = element("span", "cell-box");
    refill.append(group(label(count, "count", coin), count),
                  group(label(added, "or added", coin), added, save));
    tr.append(cell("Hopper", meter, element("span", "level")), cell("Refill", refill),
              cell("Cashbox", element("span", "cashbox")));
    Object.assign(tr, { meter, count, added, typed: null, base: 0, capacity: 0 });
    return tr;
  }

  function show(coins) {
    for (const c of coins) {
      let tr = body.querySelector(`tr[data-coin="${c.coin}"]`);
      if (!tr) body.append(tr = row(c.coin));
      Object.assign(tr.meter, { min: 0, max: c.capacity, value: c.payout });
      write(tr.querySelector(".level"),
            ` ${c.payout} / ${c.capacity}` + (c.fault ? ` · ${c.fault}` : ""));
      Object.assign(tr, { base: c.payout, capacity: c.capacity });
      tr.count.max = c.capacity;
      sync(tr);
      write(tr.querySelector(".cashbox"), `${c.cashbox} (${money(c.cashbox * c.coin)})`);
    }
    const total = coins.reduce((sum, c) => sum + c.coin * c.cashbox, 0);
    write(document.getElementById("cashbox-total"), money(total));
  }

  return { show };
}
