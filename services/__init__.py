"""Use cases: each runs in ONE unit of work (``store.db.Database.unit_of_work``).

A use case reads what it needs from the directory before its unit of work (Microsoft Graph is a network
call: never inside a transaction), then loads, decides with ``domain/`` and writes its records and their
outbox messages in one transaction. Nothing here imports botbuilder; ``dialogs/`` calls these.
"""
