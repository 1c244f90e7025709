"""The front panel: the customer's keys in, the LCD's answer out, and every text it shows.

It drives the sale through its public methods and reads the event stream; it never
imports the store or the fleet.
"""
