"""`python -m voicedial`."""

from .cli import main

main()
