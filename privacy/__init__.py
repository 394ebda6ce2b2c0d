"""Consent, sealing, signing, encryption at rest, erasure and audit: see docs/privacy.md."""
