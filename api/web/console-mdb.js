// The console's MDB payment devices, when the machine has them: the changer's tubes (count,
// full, fault per coin), the bill stacker (bills, value, full or cash box out, the bills
// taken) and each device's line in the device list (identity and status).
"use strict";
import { cell, element, money, th, write } from "./console-dom.js";

// "ready", or what keeps the device from working, in an operator's words.
function status(state, fault) {
  if (fault) return fault;
  return { ready: "working", initialising: "starting", offline: "not answering",
           stopped: "stopped" }[state] || state || "unknown";
}

function identityText(id) {
  if (!id || !(id.manufacturer || id.model || id.serial)) return "not identified";
  const parts = [[id.manufacturer, id.model].filter(Boolean).join(" ") || "unknown"];
  if (id.serial) parts.push(`serial ${id.serial}`);
  if (id.softwareVersion) parts.push(`software ${id.softwareVersion}`);
  return parts.join(", ");
}

// One device-list line for each MDB device the machine has (none without them).
export function mdbDeviceItems(m) {
  const lines = [];
  if (m.changer) {
    const why = m.changer.state === "ready" ? "" : m.changer.detail;  // why it is not working
    lines.push(["coin changer (MDB)", m.changer.identity, status(m.changer.state, why)]);
  }
  if (m.bills) lines.push(["bill validator (MDB)", m.bills.identity, status(m.bills.state, m.bills.fault)]);
  if (m.reader) {
    const working = m.reader.device === "ready" ? m.reader.state : status(m.reader.device);
    lines.push(["card reader (MDB)", m.reader.identity,
                m.reader.lastMalfunction ? `${working}; ${m.reader.lastMalfunction}` : working]);
  }
  return lines.map(([what, id, state]) =>
    element("li", "", `${what}: ${identityText(id)} (${state})`));
}

function tubeRow(tube, faulted) {
  const tr = element("tr");
  th(tr, money(tube.coin), "Coin");
  const fault = tube.outOfOrder ? "out of order" : faulted ? "fault" : "none";
  tr.append(cell("Coins", String(tube.count)), cell("Full", tube.full ? "full" : "no"),
            cell("Fault", fault));
  if (tube.outOfOrder || faulted) tr.className = "attention";
  return tr;
}

// The tubes and the stacker; each part hidden when the machine has no such device.
export function showMdb($, m) {
  const changer = m.changer, bills = m.bills;
  $("mdb-card").hidden = !changer && !bills;
  $("tubes-part").hidden = !changer;
  $("stacker-part").hidden = !bills;
  if (changer) {
    const faulted = new Set(m.faults.map((f) => f.device));
    $("tubes").tBodies[0].replaceChildren(...changer.tubes.map(
      (t) => tubeRow(t, faulted.has(`hopper:${t.coin}`))));
  }
  if (bills) {
    write($("stacker-bills"), String(bills.stackerCount));
    write($("stacker-value"), money(bills.stackerValue));
    const state = bills.cashBoxOut ? "cash box out" : bills.stackerFull ? "full: empty it" : "in place";
    write($("stacker-state"), state);
    write($("stacker-accepts"), bills.accepts.map(money).join(", ") || "none");
    write($("stacker-escrow"), bills.escrow == null ? "none" : money(bills.escrow));
  }
}
