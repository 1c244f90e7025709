"""How money comes in: the coin gate (inhibits, claims, crediting) and the hopper watch;
the MDB changer, bill validator and card reader live here too.

It may import the store, money, events and faults; never the sale, the fleet or the panel.
"""
