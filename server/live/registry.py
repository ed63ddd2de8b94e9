"""Session registry (placeholder until the live issue lands)."""

from server.config import Settings


class SessionRegistry:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
