"""After a call: the outbox of settled calls, object storage, signed webhooks, recordings, the
audit trail, replay and export.

See docs/architecture.md for how the packages fit together.
"""
