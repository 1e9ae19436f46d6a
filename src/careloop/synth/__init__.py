"""Deterministic synthetic Medicare primary-care clinic (FHIR R4 NDJSON + HL7 v2 ADT). No Django."""

from careloop.synth.generator import DEFAULT_AS_OF, SynthResult, generate

__all__ = ["DEFAULT_AS_OF", "SynthResult", "generate"]
