"""A Twilio look-alike on loopback: the real `twilio` SDK talks to it over HTTP, and it drives
each call as Twilio does, with callers played by personas.

    emulator = Emulator(account_sid=..., auth_token=..., personas=load_personas(path))
    async with running_server(emulator.app) as base_url:
        client.api.base_url = base_url
"""

from voicedial.emulator.app import Emulator, run_emulator
from voicedial.emulator.brain import CallerBrain, CallerReply
from voicedial.emulator.calls import SimCall
from voicedial.emulator.persona_model import Gap, Job, Persona
from voicedial.emulator.personas import generate_persona, load_personas

__all__ = [
    "CallerBrain",
    "CallerReply",
    "Emulator",
    "Gap",
    "Job",
    "Persona",
    "SimCall",
    "generate_persona",
    "load_personas",
    "run_emulator",
]
