"""Placing calls: the dial loop, pacing, the call provider (Twilio) and the URLs a call
is placed with.

See docs/architecture.md for how the packages fit together.
"""
