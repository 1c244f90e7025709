// The console's small tools: elements, money as the page writes it, and messages that
// belong to one field (said once, next to the field, tied to it for screen readers).
"use strict";

export const money = (cents) => (cents / 100).toFixed(2);

export function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

// A live region speaks when its text changes: write only what differs.
export function write(el, value) {
  if (el.textContent !== value) el.textContent = value;
}

// The message element of a field: the one named by its aria-describedby, made on first use.
function errorOf(input) {
  const id = input.id ? `${input.id}-error` : "";
  let box = id && document.getElementById(id);
  if (!box) {
    box = element("span", "field-error");
    box.id = id || `field-error-${Math.random().toString(36).slice(2)}`;
    (input.closest(".cell-box") || input.parentElement).append(box);
  }
  return box;
}

export function fieldError(input, text) {
  const box = errorOf(input);
  box.textContent = text;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", box.id);
}

export function clearFieldError(input) {
  if (input.getAttribute("aria-invalid") !== "true") return;
  errorOf(input).textContent = "";
  input.removeAttribute("aria-invalid");
}

// What an operator typed, read as money or as a count: {value} or {problem} in their words.
export function readMoney(input) {
  const text = input.value.trim().replace(",", ".");
  const amount = Number(text);
  if (input.validity.badInput || text === "" || !Number.isFinite(amount)) {
    return { problem: "type an amount like 0.65" };
  }
  if (!/^-?\d*(\.\d{0,2})?$/.test(text)) return { problem: "at most two decimals, like 0.65" };
  return { value: Math.round(amount * 100) };
}

export function readCount(input, what = "a whole number") {
  const text = input.value.trim();
  if (input.validity.badInput || !/^[-+]?\d+$/.test(text)) return { problem: `type ${what}` };
  return { value: Number(text) };
}

// The API counts money in cents; a field in euros speaks in euros ("at least 5" -> 0.05).
export function inMoney(message) {
  return message.replace(/-?\d+/g, (n) => money(Number(n)));
}

// --- table rows: cells that say what they are (a phone shows each row as a card) ---------

export function cell(label, ...children) {
  const td = element("td");
  td.dataset.label = label;
  td.append(...children);
  return td;
}

export function th(tr, text, label) {
  const head = element("th", "", text);
  head.scope = "row";
  head.dataset.label = label;
  tr.append(head);
}

// Controls that stay on one line ("3 / 10" never wraps under its input).
export function group(...children) {
  const span = element("span", "set");
  span.append(...children);
  return span;
}

// A field with the room for its message under it.
export function box(...children) {
  const span = element("span", "cell-box");
  span.append(...children);
  return span;
}

// An input keeps what the operator typed until it is saved; otherwise it follows the machine.
export function follow(input, value) {
  if (input.value === input.dataset.server || input.dataset.server === undefined) {
    input.value = value;
  }
  input.dataset.server = value;
}

export function numberInput(label, step, min, max) {
  const input = element("input");
  Object.assign(input, { type: "number", step, min,
                         inputMode: step === "1" ? "numeric" : "decimal" });
  if (max !== undefined) input.max = max;
  if (label) input.setAttribute("aria-label", label);
  return input;
}
