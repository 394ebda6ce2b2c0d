"""Tests of the interop model: parser, JSON Schema, spec document, uplink record, envelope."""
