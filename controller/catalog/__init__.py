"""Products and the slots they sit in: the stock rules and the service the API calls.

It may import the store, the sale's mechanism lock, accounts' seller quota and events;
never the fleet or the panel.
"""
