// The console's event log: each row of the machine's event log as a sentence a person
// reads, opening (a click, or Enter) to the raw data it was written from.
"use strict";
import { element, money } from "./console-dom.js";

const MAX_LOG_ROWS = 300;

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const device = (d) => String(d || "the machine").replace(/^slot:/, "slot ")
  .replace(/^hopper:(\d+)$/, (_m, c) => `the ${money(Number(c))} hopper`)
  .replace(/^acceptor$/, "the coin acceptor");
const holder = (h) => h === "panel" ? "the front panel's credit" :
  String(h || "").startsWith("user:") ? `the deposit of user ${h.slice(5)}` : String(h);
const coins = (plan) => Object.entries(plan || {}).filter(([, n]) => n > 0)
  .sort(([a], [b]) => Number(b) - Number(a))
  .map(([coin, n]) => `${n} × ${money(Number(coin))}`).join(", ") || "no coins";
const CHANGE_NAMES = { cost: "price", amountAvailable: "stock", productName: "name",
                       slot: "slot", minLevel: "low-stock level" };
const changeText = (k, v) => `${CHANGE_NAMES[k] || k} ${k === "cost" ? money(v) : v}`;

// kind -> the sentence of its data (a kind not listed gets its name and raw data)
const SENTENCES = {
  machine_initialised: (d) => `The machine was set up: each hopper filled with ` +
    `${plural(d.hopper_fill, "coin")} (${money(d.value)} in all).`,
  coin_accepted: (d) => `A ${money(d.coin)} coin was taken for ${holder(d.holder)}; ` +
    `it went to ${d.route === "payout" ? "its hopper" : `the ${d.route}`}.`,
  hopper_adjusted: (d) => {
    const diff = d.after - d.before;
    return `The ${money(d.coin)} hopper was set to ${plural(d.after, "coin")} ` +
      `(${diff >= 0 ? "+" : "−"}${Math.abs(diff)} from ${d.before}).`;
  },
  cashbox_collected: (d) => `The cashbox was emptied: ${money(d.value)} collected.`,
  product_changed: (d) => {
    const changes = Object.entries(d.changes || {}).map(([k, v]) => changeText(k, v));
    return `${d.slot || "A product"} changed: ${changes.join(", ") || "nothing"}` +
      ` (by user ${d.by}).`;
  },
  service: (d) => d.enabled ? "Service mode on." : "Service mode off" +
    (d.slots_cleared ? `: ${plural(d.slots_cleared, "slot")} back in order.` : "."),
  fault: (d) => `Fault: ${device(d.device)}: ${d.reason}` +
    (d.latched ? " (stays until an operator clears it)." : "."),
  fault_cleared: (d) => `${device(d.device)} works again (${d.reason}).`,
  faults_cleared: (d) => `Faults cleared by the ${d.device}.`,
  slot_status: (d) => d.status === "ok" ? `Slot ${d.slot} is back in order.` :
    `Slot ${d.slot} is ${String(d.status).replace(/_/g, " ")}` +
    (d.reason ? `: ${d.reason}.` : "."),
  vend_started: (d) => `Vend ${d.vend} started: slot ${d.slot} at ${money(d.price)}, ` +
    `paid from ${holder(d.holder)}.`,
  vend_delivered: (d) => `Vend ${d.vend} delivered from slot ${d.slot}.`,
  vend_failed: (d) => `Vend ${d.vend} from slot ${d.slot} failed (${d.outcome}): ` +
    "nothing charged.",
  vend_recovered: (d) => `Vend ${d.vend} from slot ${d.slot} was open at start-up: ` +
    (d.charged ? "charged." : "not charged."),
  payout_started: (d) => `Paying ${money(d.amount)} to ${holder(d.holder)}: ` +
    `${coins(d.plan)}.`,
  payout_replanned: (d) => `Payout ${d.payout} planned again: ${coins(d.plan)}.`,
  payout_settled: (d) => `Payout ${d.payout} done: ${coins(d.paid)}` +
    (d.unpaid ? `; ${money(d.unpaid)} could not be paid.` : "."),
  payout_unaccounted: (d) => `Payout ${d.payout}: the ${money(d.coin)} hopper cannot tell ` +
    `whether it paid ${plural(d.count, "coin")}; ${money(d.owed)} is owed.`,
  payout_overpaid: (d) => `Payout ${d.payout} paid ${money(d.value)} too much.`,
  recovery: (d) => `Start-up check: ${plural(d.vends, "open vend")} settled` +
    ((d.problems || []).length ? `; problems: ${d.problems.join("; ")}.` : "."),
  acceptor_alert: (d) => `Coin acceptor alert: ${d.meaning || d.event} (code ${d.code}).`,
  telemetry_backlog_cut: (d) => `Fleet telemetry skipped ${plural(d.dropped, "old event")} ` +
    `(${d.fromId} to ${d.toId}).`,
  fleet_command: (d) => `Fleet command “${d.command}” ` +
    (d.ok ? "done." : `refused (${d.error}).`),
};

function fallback(kind) {
  const words = kind.replace(/_/g, " ");
  if (kind.startsWith("acceptor_")) return `The coin acceptor reported: ${words.slice(9)}.`;
  return `${words[0].toUpperCase()}${words.slice(1)}.`;
}

/** The sentence of one event of the log. */
export function sentence(event) {
  const make = SENTENCES[event.kind];
  try {
    if (make) return make(event.data || {});
  } catch (e) {
    // an event of an older or newer shape: say what kind it is, the raw data says the rest
  }
  return fallback(event.kind);
}

/** The raw data of one event, as the log stores it. */
export function raw(event) {
  const data = Object.entries(event.data || {}).map(([k, v]) =>
    `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join("  ");
  return `${event.kind}  ${data}`.trim();
}

function row(e, fresh) {
  const li = element("li", fresh ? "new" : "");
  li.dataset.kind = e.kind;
  const when = element("time", "", new Date(e.ts * 1000).toTimeString().slice(0, 8));
  when.dateTime = new Date(e.ts * 1000).toISOString();
  const details = element("details");
  details.append(element("summary", "sentence", sentence(e)), element("p", "data", raw(e)));
  li.append(when, details);
  return li;
}

/** Add the events newer than ``lastId`` to the list, newest first; the new last id. */
export function showEvents(list, events, lastId) {
  const fresh = list.childElementCount > 0;
  for (const e of events) {
    if (e.id <= lastId) continue;
    lastId = e.id;
    list.prepend(row(e, fresh));
  }
  while (list.childElementCount > MAX_LOG_ROWS) list.lastElementChild.remove();
  return lastId;
}
