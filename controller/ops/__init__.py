"""Running the machine for its operator: systemd supervision, backups, logs, the EVA-DTS
audit report, the ledger, maintenance (refills, cashbox, service mode), CLI remedies.

It may import the store, money and events; the sale and the panel never import it.
"""
