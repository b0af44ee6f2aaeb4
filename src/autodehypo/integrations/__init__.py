"""Bridges to other tools; each module imports its tool only when it is used (optional extras)."""
