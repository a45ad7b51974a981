"""When a contact may be called: calling windows in the contact's local time.

See docs/architecture.md for how the packages fit together.
"""
