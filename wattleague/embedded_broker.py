"""An embedded MQTT broker (amqtt) in a background thread, for the demo and small setups."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading


class PortInUseError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ensure_port_free(host: str, port: int, flag: str) -> None:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            raise PortInUseError(
                f"port {port} on {host} is already in use; choose another with {flag} "
                f"(or {flag} 0 for a free one)"
            ) from None


class EmbeddedBroker:
    """amqtt listening on ``host:port``; ``start()`` returns once it accepts connections."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mqtt-broker", daemon=True)

    def start(self, timeout_s: float = 15.0) -> None:
        ensure_port_free(self.host, self.port, "--mqtt-port")
        logging.getLogger("amqtt").setLevel(logging.ERROR)
        logging.getLogger("transitions").setLevel(logging.ERROR)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error:
            raise RuntimeError(f"embedded MQTT broker did not start: {self._error}")

    def _run(self) -> None:
        from amqtt.broker import Broker

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            broker = Broker(
                {
                    "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                    "plugins": {
                        "amqtt.plugins.authentication.AnonymousAuthPlugin": {
                            "allow_anonymous": True
                        },
                    },
                }
            )
            try:
                await broker.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            await self._stopped.wait()
            await broker.shutdown()

        asyncio.run(main())

    def stop(self) -> None:
        if self._loop and self._stopped:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=10)
