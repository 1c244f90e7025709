"""Accounts and login sessions: users, passwords and their policy, seller quotas, pruning.

Synchronous rules on the store's db (``rules``) and the service the API and CLI call
(``service``). It may import the store; never the sale, the panel or the fleet.
"""
