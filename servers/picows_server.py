"""picows server for the WebSocket part of the contract (servers/contract.py).

picows (https://github.com/tarasko/picows) is WebSocket only, like the websockets library: its
listener factory sees each request's path before the upgrade is checked and routes on it, and a
plain HTTP answer from the factory is sent with ``Connection: close`` (GET /health; 404 elsewhere).
It is a second reference beside the baseline: the fastest Python-side WebSocket server here.

picows hands its listener frames, not messages: fragmented messages are reassembled here, with
the contract's size limit. A single frame over the limit never reaches the listener: picows'
``max_frame_size`` refuses it from the frame's header (close 1009, then a disconnect), so it is
never buffered. Client faults picows logs (a refused frame, a protocol error) are one line each.

Its answers to bad requests are picows' own: a malformed request line, a method other than GET
or a version other than HTTP/1.1 gets 400 and a close; a request head over 16 KiB is closed
without an answer.
"""

from __future__ import annotations

import asyncio
import socket

from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSProtocolError,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

import servers
from servers import ServerOptions, Stop, contract

TEXT, BINARY, CONTINUATION, CLOSE = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION, WSMsgType.CLOSE
HEALTH_PATH = contract.HEALTH.encode()
# How long stop() lets connections close gracefully (their unsent data flushed) before aborting them.
STOP_GRACE_S = 1.0


class MessageListener(WSListener):
    """One WebSocket connection: reassembles messages from frames and answers the closing
    handshake; ``on_message`` (in a subclass) gets every whole text or binary message."""

    transport: WSTransport

    def __init__(self, connections: set[MessageListener]) -> None:
        self.connections = connections
        self.fragment_type: WSMsgType | None = None  # the message being reassembled, if any
        self.fragments: list[bytes] = []
        self.fragments_size = 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.connections.add(self)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.connections.discard(self)

    def on_message(self, msg_type: WSMsgType, payload: bytes) -> None:
        raise NotImplementedError

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        # The common case first: a whole message in one frame.
        if frame.fin and self.fragment_type is None and (msg_type is TEXT or msg_type is BINARY):
            self.on_message(msg_type, frame.get_payload_as_bytes())
            return
        if msg_type is CLOSE:
            if not transport.is_close_frame_sent:  # the client's close: answer it with its code
                code = frame.get_close_code()
                transport.send_close(WSCloseCode.OK if code == WSCloseCode.NO_INFO else code)
            transport.disconnect()
            return
        if transport.is_close_frame_sent or msg_type not in (TEXT, BINARY, CONTINUATION):
            return  # closing (the client's close will end it), or a pong: pings are answered by picows
        # A fragment. Raising WSProtocolError makes picows close with its code and disconnect.
        if msg_type is CONTINUATION:
            if self.fragment_type is None:
                raise WSProtocolError(WSCloseCode.PROTOCOL_ERROR, "continuation frame without a message")
        elif self.fragment_type is not None:
            raise WSProtocolError(WSCloseCode.PROTOCOL_ERROR, "new message before the last one ended")
        else:
            self.fragment_type, self.fragments, self.fragments_size = msg_type, [], 0
        self.fragments_size += frame.payload_size
        if self.fragments_size > contract.MAX_MESSAGE_BYTES:
            self.fragment_type, self.fragments = None, []
            raise WSProtocolError(
                WSCloseCode.MESSAGE_TOO_BIG, f"message over {contract.MAX_MESSAGE_BYTES} bytes in fragments"
            )
        self.fragments.append(frame.get_payload_as_bytes())
        if frame.fin:
            message_type, message = self.fragment_type, b"".join(self.fragments)
            self.fragment_type, self.fragments = None, []
            self.on_message(message_type, message)


class EchoListener(MessageListener):
    """/ws/echo: every message back unchanged, same type."""

    def on_message(self, msg_type: WSMsgType, payload: bytes) -> None:
        self.transport.send(msg_type, payload)


class BroadcastListener(MessageListener):
    """/ws/broadcast: every connection a subscriber; a text message goes to all, sender included."""

    def __init__(self, connections: set[MessageListener], subscribers: set[WSTransport]) -> None:
        super().__init__(connections)
        self.subscribers = subscribers

    def on_ws_connected(self, transport: WSTransport) -> None:
        super().on_ws_connected(transport)
        self.subscribers.add(transport)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        super().on_ws_disconnected(transport)
        self.subscribers.discard(transport)

    def on_message(self, msg_type: WSMsgType, payload: bytes) -> None:
        if msg_type is TEXT:
            for subscriber in tuple(self.subscribers):
                subscriber.send(TEXT, payload)


async def start(sock: socket.socket, options: ServerOptions) -> Stop:
    # options.compression is not used: picows has no permessage-deflate (registry ws_deflate=False).
    connections: set[MessageListener] = set()
    subscribers: set[WSTransport] = set()
    routes = {
        contract.WS_ECHO.encode(): lambda: EchoListener(connections),
        contract.WS_BROADCAST.encode(): lambda: BroadcastListener(connections, subscribers),
    }

    def listener_factory(request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener | None:
        """Routes on the path (picows checks the upgrade headers only when a listener is returned);
        None is picows' 404, and a non-101 response goes out as plain HTTP with a close."""
        route = routes.get(request.path)
        if route is not None:
            return route()
        if request.path == HEALTH_PATH:  # a new response each time: sending one adds to its headers
            health = WSUpgradeResponse.create_ok_response(contract.HEALTH_BODY, {"Content-Type": contract.TEXT_PLAIN})
            return WSUpgradeResponseWithListener(health, None)
        return None

    server = await ws_create_server(
        listener_factory,
        sock=sock,  # passed on to create_server
        max_frame_size=contract.MAX_MESSAGE_BYTES,  # refused from its header, never buffered
        enable_auto_ping=False,  # no keep-alive pings: the others send none either
        ssl=servers.server_ssl_context(options),  # TLS: picows' own, ws_create_server(ssl=...) for create_server
    )

    async def stop() -> None:
        server.close()
        for connection in tuple(connections):
            connection.transport.send_close(WSCloseCode.GOING_AWAY)
            connection.transport.disconnect()
        # The server's own list of connections covers those not upgraded yet; its wait_closed waits
        # for all of them (picows serves through aiofastnet's server, which behaves as asyncio's 3.12+).
        server.close_clients()
        try:
            await asyncio.wait_for(server.wait_closed(), STOP_GRACE_S)
        except TimeoutError:  # a client that reads nothing keeps a graceful close waiting
            server.abort_clients()
            await server.wait_closed()

    return stop
