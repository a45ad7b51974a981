"""The command line: Typer commands that turn options into settings, call one library function
and map its result to an exit code.

See docs/architecture.md for how the packages fit together.
"""
