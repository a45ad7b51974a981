"""The callback server: Twilio's voice, Gather, status and AMD webhooks, signature checks,
TwiML, and what a finished call comes to.

See docs/architecture.md for how the packages fit together.
"""
