"""Tying the journey together: `campaign run`, `worker` and `serve`, importing a list,
reconciling calls whose fate is unknown, doctor and eval.

See docs/architecture.md for how the packages fit together.
"""
