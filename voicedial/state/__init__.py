"""Campaign state in Redis: key names, contact states, the store and its Lua scripts, the
embedded server. Every Redis read and write of campaign data goes through this package.

See docs/architecture.md for how the packages fit together.
"""
