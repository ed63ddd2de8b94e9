"""Websocket routes (placeholder until the live issue lands)."""

from fastapi import APIRouter

router = APIRouter()
