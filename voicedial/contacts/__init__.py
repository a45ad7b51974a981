"""Contact lists: reading list files, normalising and hashing numbers, duplicates, do-not-call
files and the rejects file. Nothing here touches Redis.

See docs/architecture.md for how the packages fit together.
"""
