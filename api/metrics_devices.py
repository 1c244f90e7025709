"""The payment devices' metrics: the bill stacker, bills stacked and returned, and
who each device says it is.

Families: ``vending_bill_stacker_bills`` (bills the validator counts in its
stacker), ``vending_bill_stacker_cents`` (their value, as booked since the last
collection), ``vending_bills_total{bill,result}`` (escrows ended: ``stacked``,
``returned``, ``rejected``) and ``vending_device_info{device,manufacturer,model,
serial,software}`` (1 for each device that identified itself: ``changer``,
``bills``, ``reader``, a ccTalk ``acceptor`` or ``hopper:<coin>``).  The stacker
gauges stay 0 on a machine without a validator; the bill counters start at 0 for
every bill the validator accepts.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

BILL_RESULTS = ("stacked", "returned", "rejected")
CARD_TOLD = ("success", "failure", "lost")  # a settled card vend (controller/sale/card.py)


def identities(state: dict[str, Any]) -> dict[str, tuple[str, str, str, str]]:
    """(manufacturer, model, serial, software) of each device in ``GET /machine``
    that identified itself, by device name."""
    found: dict[str, tuple[str, str, str, str]] = {}
    for device in ("changer", "bills", "reader"):
        section = state.get(device)
        ident = section.get("identity") if isinstance(section, dict) else None
        if ident:
            found[device] = (str(ident.get("manufacturer") or ""), str(ident.get("model") or ""),
                             str(ident.get("serial") or ""),
                             str(ident.get("softwareVersion") or ""))
    cctalk = [("acceptor", (state.get("acceptor") or {}).get("identity"))]
    cctalk += [(str(h["device"]), h.get("identity")) for h in state.get("hoppers", [])]
    for device, ident in cctalk:
        if ident:
            found[device] = (str(ident.get("manufacturer") or ""),
                             str(ident.get("productCode") or ""),
                             str(ident.get("serialNumber") or ""),
                             str(ident.get("softwareRevision") or ""))
    return found


class DeviceMetrics:
    """The bill stacker, bill counters and device identities of one machine."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.stacker_bills = Gauge("vending_bill_stacker_bills",
                                   "Bills in the bill validator's stacker (its own count)",
                                   registry=registry)
        self.stacker_cents = Gauge("vending_bill_stacker_cents",
                                   "Value of the bills stacked since the last collection",
                                   registry=registry)
        self.bills = Counter("vending_bills", "Bills out of escrow, by value and result",
                             ["bill", "result"], registry=registry)
        self.info = Gauge("vending_device_info", "1 for each payment device's identity",
                          ["device", "manufacturer", "model", "serial", "software"],
                          registry=registry)
        self._info: dict[str, tuple[str, str, str, str]] = {}
        self._has_bills = False

    @property
    def has_bills(self) -> bool:
        return self._has_bills

    def bill(self, data: dict[str, Any]) -> None:
        """A ``bill`` event: one escrow ended."""
        self.bills.labels(str(data["bill"]), str(data["result"])).inc()

    def reread(self, state: dict[str, Any]) -> None:
        """Stacker gauges and identities from ``GET /machine``."""
        bills = state.get("bills")
        if isinstance(bills, dict):
            if not self._has_bills:  # the series exist from the first scrape, at 0
                self._has_bills = True
                for bill in bills.get("accepts", []):
                    for result in BILL_RESULTS:
                        self.bills.labels(str(bill), result)
            self.stacker_bills.set(int(bills.get("stackerCount") or 0))
            self.stacker_cents.set(int(bills.get("stackerValue") or 0))
        found = identities(state)
        for device, old in self._info.items():
            if found.get(device) != old:
                self.info.remove(device, *old)
        for device, labels in found.items():
            self.info.labels(device, *labels).set(1)
        self._info = found
