"""The sale: credit, vend and change, the change payer, the mechanism lock, payment media.

One rulebook for the front panel and the API. It may import the store, money, events,
faults and the FSM; never the fleet, the panel or the API.
"""
