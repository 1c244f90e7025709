// The console's device list: who each payment device said it is at start-up (the
// ccTalk identity in GET /machine), one line each.
"use strict";
import { element, money } from "./console-dom.js";
import { mdbDeviceItems } from "./console-mdb.js";

function identityText(id) {
  if (!id) return "not identified (no answer yet, or a pulse device)";
  const name = [id.manufacturer, id.productCode].filter(Boolean).join(" ") || "unknown";
  const parts = [name];
  if (id.serialNumber) parts.push(`serial ${id.serialNumber}`);
  if (id.softwareRevision) parts.push(`software ${id.softwareRevision}`);
  if (id.coinId) parts.push(`coin ${id.coinId}`);
  return parts.join(", ");
}

// With an MDB changer the tubes pay change: its line stands for the acceptor and hoppers.
export function showDevices(list, m) {
  const rows = m.changer ? [] : [["coin acceptor", m.acceptor && m.acceptor.identity]];
  if (!m.changer) for (const h of m.hoppers || []) rows.push([`${money(h.coin)} hopper`, h.identity]);
  list.replaceChildren(...rows.map(([what, id]) =>
    element("li", "", `${what}: ${identityText(id)}`)), ...mdbDeviceItems(m));
}
