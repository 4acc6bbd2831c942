"""timestep: durable, resumable runs for the OpenAI Agents SDK on an embedded PostgreSQL."""

from __future__ import annotations

__version__ = "0.1.0"
