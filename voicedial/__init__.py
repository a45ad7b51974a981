"""voicedial: a command-line batch dialer with an AI phone interviewer."""

__version__ = "0.1.0"
__all__ = ["__version__"]
