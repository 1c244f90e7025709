"""Random actions on a real ``vending run``, through its public API and sim control.

A ``Customers`` object plays everybody at once from one seeded ``random.Random``:
walk-up customers (coins, keys, the tray), buyers and sellers over the API,
an operator (refills, cashbox, service mode), a technician injecting and
clearing faults on every device, a few requests at once, and SIGKILL at a
random moment followed by a restart.  The choices depend on the seed only;
what the machine answers depends on timing, so a run is reproducible in what
it does, not in every answer.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from tests.process import Server, login
from tests.reliability.random_world import (
    Answer,
    Outside,
    assert_no_server_error,
    read_world,
    request,
)

COINS = [5, 10, 20, 50, 100]
SLOTS = [f"{row}{col}" for row in "AB" for col in range(1, 4)]
SPARE_SLOTS = ["C1", "C2"]  # products come and go here
DEVICES = ["acceptor", *(f"hopper:{c}" for c in COINS),
           *(f"slot:{s}" for s in [*SLOTS, *SPARE_SLOTS])]
FAULTS = ["jam", "no_drop", "empty", "silent", "bad_checksum", "reset", "refuse"]
PASSWORD = "random-pass-1"
BOOT_FATAL_FAULTS = {"silent", "bad_checksum"}
# An operator's count of a hopper, cashbox collection or a spiral load is a
# physical act and its record: the simulator does both in one call, and a kill
# between them leaves the books and the world apart until the operator, who got
# no answer, does it again (as one would at a real machine).
RETRIED_AFTER_A_CUT = {"refill", "collect", "restock", "product"}


def coins_of(names: list[str]) -> int:
    """The value of the coins that logged actions offer: "coin(50)",
    "deposit(buyer1,20)", "shop(2,100,50,A1)" (how many, the coins, the keys)."""
    total = 0
    for name in names:
        kind, _, args = name.rstrip(")").partition("(")
        drawn = args.split(",")
        if kind == "coin":
            total += int(drawn[0])
        elif kind == "deposit":
            total += int(drawn[1])
        elif kind == "shop":
            total += sum(int(c) for c in drawn[1:-1])
    return total


class LoggedRandom(random.Random):
    """A seeded Random that remembers what ``choice`` and ``randint`` drew (for the log)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.drawn: list[Any] = []

    def choice(self, seq: Any) -> Any:
        picked = super().choice(seq)
        self.drawn.append(picked)
        return picked

    def randint(self, a: int, b: int) -> int:
        picked = super().randint(a, b)
        self.drawn.append(picked)
        return picked


class Customers:
    def __init__(self, server: Server, operator: str, seed: int) -> None:
        self.server = server
        self.operator = operator
        self.rng = LoggedRandom(seed)
        self.outside = Outside()
        self.seller = ""
        self.products: dict[str, int] = {}  # slot -> product id
        self.log: list[str] = []
        self.statuses: dict[str, int] = {}
        self.lock = threading.Lock()

    # --- the calls ---------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Answer:
        answer = request(self.server, method, path, body, token)
        assert_no_server_error(answer, f"{method} {path} {body}")
        key = f"{method} {path.split('/')[1]} {answer.status}"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        return answer

    def setup(self) -> None:
        self.call("POST", "/user", {"username": "seller", "password": PASSWORD, "role": "seller"})
        self.seller = login(self.server, "seller", PASSWORD)
        for slot in SLOTS:
            answer = self.call("POST", "/product", {"productName": f"snack-{slot}", "cost":
                                                    self.rng.choice([35, 50, 65, 100, 120]),
                                                    "amountAvailable": 5, "slot": slot},
                               self.seller)
            assert answer.status == 201, answer
            self.products[slot] = int(answer.body["id"])
        for n in range(3):
            self.sign_up(f"buyer{n}")

    def sign_up(self, name: str) -> None:
        answer = self.call("POST", "/user", {"username": name, "password": PASSWORD,
                                             "role": "buyer"})
        assert answer.status == 201, answer
        self.outside.buyers[name] = login(self.server, name, PASSWORD)

    def relogin(self) -> None:
        """Tokens outlive a restart; a new login checks that sign-in still works too."""
        self.seller = login(self.server, "seller", PASSWORD)

    @contextlib.contextmanager
    def uncertain(self, counter: str, value: int) -> Iterator[Callable[[str | None], None]]:
        """Count ``value`` as uncertain until the call settles it (``settle(counter)``:
        moved to that counter, or dropped with None); a call a kill cuts short never
        settles, so what it may have moved stays uncertain."""
        with self.lock:
            setattr(self.outside, counter, getattr(self.outside, counter) + value)

        def settle(to: str | None) -> None:
            with self.lock:
                setattr(self.outside, counter, getattr(self.outside, counter) - value)
                if to is not None:
                    setattr(self.outside, to, getattr(self.outside, to) + value)
        yield settle

    def later(self, method: str, path: str, body: Any = None,
              token: str | None = "") -> Callable[[], None]:
        """A call to make later; ``token=None`` is the seller's token of that moment."""
        def run() -> None:
            self.call(method, path, body, self.seller if token is None else token or None)
        return run

    # --- the actions (each takes its arguments from the rng before it runs) --

    def coin(self) -> Callable[[], None]:
        coin = self.rng.choice(COINS)

        def run() -> None:
            with self.uncertain("uncertain_cents", coin) as settle:
                answer = self.call("POST", "/sim/coin", {"coin": coin})
                # 200: in the machine or refused into the cup; otherwise perhaps either
                settle("offered_cents" if answer.status == 200 else "uncertain_cents")
        return run

    def press(self) -> Callable[[], None]:
        keys = self.rng.choice([*SLOTS, *SPARE_SLOTS, "*", "*", "#", "C6", "A1*"])

        def run() -> None:
            with self.uncertain("cut_vends", 1) as settle:  # a kill may cut a vend
                self.call("POST", "/sim/press", {"keys": keys})
                settle(None)
        return run

    def deposit(self) -> Callable[[], None]:
        name, coin = self.rng.choice(sorted(self.outside.buyers)), self.rng.choice(COINS)

        def run() -> None:
            with self.uncertain("uncertain_cents", coin) as settle:
                answer = self.call("POST", "/deposit", {"coin": coin}, self.outside.buyers[name])
                # 200: the coin is in; a timeout (408) may or may not have seen the
                # simulated buyer's coin go in; so may a claim that ended 409 (a panel
                # coin slipped in first, or * at the keypad): the buyer's coin, if it
                # went in, is then the panel's credit; other 4xx refuse before a coin
                settle("offered_cents" if answer.status == 200 else
                       "uncertain_cents" if answer.status in (408, 503) or _claim_ended(answer)
                       else None)
        return run

    def buy(self) -> Callable[[], None]:
        name = self.rng.choice(sorted(self.outside.buyers))
        slot = self.rng.choice([*SLOTS, *SPARE_SLOTS])
        amount = self.rng.choice([1, 1, 2])

        def run() -> None:
            product_id = self.products.get(slot, 9999)  # a product gone: 404
            with self.uncertain("cut_vends", amount) as settle:
                self.call("POST", "/buy", {"productId": product_id, "amount": amount},
                          self.outside.buyers[name])
                settle(None)
        return run

    def reset(self) -> Callable[[], None]:
        name = self.rng.choice(sorted(self.outside.buyers))
        return self.later("POST", "/reset", None, self.outside.buyers[name])

    def take(self) -> Callable[[], None]:
        def run() -> None:
            answer = self.call("POST", "/sim/tray/take")
            assert answer.status == 200, answer
            with self.lock:
                self.outside.taken_coins += answer.body["returned"]
                self.outside.taken_products += answer.body["tray"]
        return run

    def refill(self) -> Callable[[], None]:
        coin, payout = self.rng.choice(COINS), self.rng.randint(0, 40)
        return self.later("PUT", f"/machine/coins/{coin}", {"payout": payout}, self.operator)

    def collect(self) -> Callable[[], None]:
        return self.later("POST", "/machine/cashbox/collect", None, self.operator)

    def service(self) -> Callable[[], None]:
        enabled = self.rng.random() < 0.4
        return self.later("POST", "/machine/service", {"enabled": enabled}, self.operator)

    def fault(self) -> Callable[[], None]:
        device = self.rng.choice(DEVICES)
        fault = self.rng.choice([*FAULTS, "clear", "clear"])
        return self.later("POST", "/sim/fault", {"device": device, "fault": fault})

    def restock(self) -> Callable[[], None]:
        slot, amount = self.rng.choice(SLOTS), self.rng.randint(0, 10)
        return self.later("PUT", f"/product/{self.products[slot]}",
                          {"amountAvailable": amount}, token=None)

    def signup(self) -> Callable[[], None]:
        name = f"buyer{len(self.outside.buyers) + self.rng.randint(0, 2)}"

        def run() -> None:
            if name in self.outside.buyers:
                return
            answer = self.call("POST", "/user", {"username": name, "password": PASSWORD,
                                                 "role": "buyer"})
            if answer.status == 201:  # 409 username_taken when two sign up at once
                token = login(self.server, name, PASSWORD)
                with self.lock:
                    self.outside.buyers[name] = token
        return run

    def product(self) -> Callable[[], None]:
        """A seller takes a product out of a spare slot, or puts a new one in."""
        slot, cost = self.rng.choice(SPARE_SLOTS), self.rng.choice([5, 45, 95])

        def run() -> None:
            if slot in self.products:
                answer = self.call("DELETE", f"/product/{self.products[slot]}", None,
                                   self.seller)
                if answer.status == 204:
                    del self.products[slot]
                return
            answer = self.call("POST", "/product", {"productName": f"snack-{slot}", "cost": cost,
                                                    "amountAvailable": 3, "slot": slot},
                               self.seller)
            if answer.status == 201:
                self.products[slot] = int(answer.body["id"])
        return run

    def shop(self) -> Callable[[], None]:
        """A walk-up customer: a coin or two, then a slot (or the coin return)."""
        coins = [self.rng.choice([50, 100]) for _ in range(self.rng.randint(1, 2))]
        keys = self.rng.choice([*SLOTS, *SPARE_SLOTS, "*"])

        def run() -> None:
            for coin in coins:
                with self.uncertain("uncertain_cents", coin) as settle:
                    answer = self.call("POST", "/sim/coin", {"coin": coin})
                    settle("offered_cents" if answer.status == 200 else "uncertain_cents")
            with self.uncertain("cut_vends", 1) as settle:
                self.call("POST", "/sim/press", {"keys": keys})
                settle(None)
        return run

    def mend(self) -> Callable[[], None]:
        """A technician's round: every injected fault cleared, service mode in and out."""
        def run() -> None:
            for device in sorted(read_world(self.server.db).get("faults", {})):
                self.call("POST", "/sim/fault", {"device": device, "fault": "clear"})
            for enabled in (True, False):
                self.call("POST", "/machine/service", {"enabled": enabled}, self.operator)
        return run

    WEIGHTS: ClassVar[dict[str, int]] = {
        "coin": 14, "press": 10, "deposit": 8, "buy": 8, "reset": 4, "take": 4, "refill": 3,
        "collect": 2, "service": 3, "fault": 8, "restock": 2, "signup": 1, "product": 2,
        "mend": 3, "shop": 6}

    def pick(self, *, killing: bool = False) -> tuple[str, Callable[[], None]]:
        # a take cut short by a kill would hide what left the tray and the cup; a
        # fault injected beside a kill could leave a coin device silent at boot
        names = [n for n in sorted(self.WEIGHTS) if not killing or n not in ("take", "fault")]
        name = self.rng.choices(names, weights=[self.WEIGHTS[n] for n in names])[0]
        self.rng.drawn = []
        action: Callable[[], None] = getattr(self, name)()
        drawn = ",".join(map(str, self.rng.drawn))
        return f"{name}({drawn})" if drawn else name, action

    def note_acceptor_trouble(self, picked: list[tuple[str, Callable[[], None]]]) -> None:
        """Coins offered together with an acceptor fault, or while one stands, may be
        swallowed (see ``Outside.swallow_cents``)."""
        names = [name for name, _ in picked]
        standing = read_world(self.server.db).get("faults", {}).get("acceptor")
        if standing or any(n.startswith("fault(acceptor,") and "clear" not in n for n in names):
            with self.lock:
                self.outside.swallow_cents += coins_of(names)

    def mend_boot_fatal_faults(self) -> None:
        """Today a coin device that does not answer at start-up ends the process
        (issue 9, being fixed): the technician mends its line before the power cut,
        so that the run goes on after the restart."""
        for device, faults in read_world(self.server.db).get("faults", {}).items():
            if not device.startswith("slot:") and BOOT_FATAL_FAULTS & set(faults):
                self.log.append(f"mend {device}")
                self.call("POST", "/sim/fault", {"device": device, "fault": "clear"})

    # --- steps ---------------------------------------------------------------

    def step(self, pool: ThreadPoolExecutor) -> None:
        """One action, or a few at once; sometimes the power goes meanwhile."""
        roll = self.rng.random()
        if roll < 0.6:
            name, action = self.pick()
            self.note_acceptor_trouble([(name, action)])
            self.log.append(name)
            action()
            return
        kill_after_s = self.rng.uniform(0.0, 0.6) if roll > 0.9 else None
        picked = [self.pick(killing=kill_after_s is not None)
                  for _ in range(self.rng.randint(2, 4))]
        self.note_acceptor_trouble(picked)
        self.log.append("+".join(n for n, _ in picked) + (" kill" if kill_after_s is not None
                                                          else ""))
        futures = [pool.submit(action) for _, action in picked]
        if kill_after_s is None:
            for future in futures:
                future.result()
            return
        self.mend_boot_fatal_faults()
        with self.lock:
            self.outside.cut_coin_cents += coins_of([name for name, _ in picked])
        time.sleep(kill_after_s)
        self.server.kill()
        unanswered = []
        for (name, action), future in zip(picked, futures, strict=True):
            try:
                future.result(timeout=30)
            except (OSError, http.client.HTTPException):
                unanswered.append((name, action))  # what it may have moved stays uncertain
        self.server.start()
        self.relogin()
        for name, action in unanswered:
            if name.partition("(")[0] in RETRIED_AFTER_A_CUT:
                self.log.append(f"again {name}")
                action()


def _claim_ended(answer: Answer) -> bool:
    """A 409 that may come after the simulated buyer's coin went in."""
    body = answer.body if isinstance(answer.body, dict) else {}
    code = body.get("error", {}).get("code")
    return answer.status == 409 and code in ("machine_busy", "deposit_cancelled")
