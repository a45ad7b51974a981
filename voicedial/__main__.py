"""`python -m voicedial`."""

from voicedial.cli.app import main

main()
