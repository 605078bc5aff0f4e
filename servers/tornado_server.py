"""Tornado server for the endpoint contract (servers/contract.py)."""

from __future__ import annotations

import socket

import tornado.httpserver
import tornado.web
import tornado.websocket

from servers import ServerOptions, Stop, contract, json_codec


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    dumps, loads = json_codec(options.json_codec)
    json_type = f"{contract.APPLICATION_JSON}; charset=UTF-8"
    subscribers: set[tornado.websocket.WebSocketHandler] = set()

    class PlaintextHandler(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", contract.TEXT_PLAIN)
            self.write(contract.PLAINTEXT_BODY)

    class JsonHandler(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", json_type)
            self.write(dumps(contract.JSON_MESSAGE))

    class JsonEchoHandler(tornado.web.RequestHandler):
        def post(self) -> None:
            try:
                data = loads(self.request.body)
            except ValueError:
                raise tornado.web.HTTPError(400, "body is not JSON") from None
            self.set_header("Content-Type", json_type)
            self.write(dumps(data))

    class HealthHandler(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", contract.TEXT_PLAIN)
            self.write(contract.HEALTH_BODY)

    class WebSocket(tornado.websocket.WebSocketHandler):
        def get_compression_options(self) -> dict | None:
            return {} if options.compression else None

    class EchoHandler(WebSocket):
        async def on_message(self, message: str | bytes) -> None:
            # Awaiting the write applies back-pressure, as aiohttp's send_* does.
            try:
                await self.write_message(message, binary=isinstance(message, bytes))
            except tornado.websocket.WebSocketClosedError:
                pass

    class BroadcastHandler(WebSocket):
        def open(self) -> None:
            subscribers.add(self)

        def on_message(self, message: str | bytes) -> None:
            if isinstance(message, bytes):
                return
            for subscriber in tuple(subscribers):
                try:
                    subscriber.write_message(message)
                except tornado.websocket.WebSocketClosedError:
                    subscribers.discard(subscriber)

        def on_close(self) -> None:
            subscribers.discard(self)

    app = tornado.web.Application(
        [
            (contract.PLAINTEXT, PlaintextHandler),
            (contract.JSON, JsonHandler),
            (contract.JSON_ECHO, JsonEchoHandler),
            (contract.HEALTH, HealthHandler),
            (contract.WS_ECHO, EchoHandler),
            (contract.WS_BROADCAST, BroadcastHandler),
        ],
        log_function=lambda handler: None,  # no access log, as for the other servers
        websocket_max_message_size=contract.MAX_MESSAGE_BYTES,
    )
    server = tornado.httpserver.HTTPServer(
        app, max_body_size=contract.MAX_MESSAGE_BYTES, max_buffer_size=contract.MAX_MESSAGE_BYTES
    )
    server.add_sockets([sock])

    async def stop() -> None:
        server.stop()
        await server.close_all_connections()

    return stop
