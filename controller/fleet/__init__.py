"""Fleet telemetry over MQTT: the publisher, fleet commands, and ``vending fleet``, the
live table of every machine. Its outbox (what waits for the broker) is ``store.outbox``.

It follows the machine through the event stream and public methods; nothing below
``sale/`` imports it.
"""
