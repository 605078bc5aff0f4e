"""The generators' reply checks, fed bytes and frames by hand (harness/loadgen/verify.py):
each fault is caught and named, and a correct reply passes, with no server involved."""

from __future__ import annotations

import json
import zlib

import pytest

from harness.loadgen import verify
from harness.loadgen.deflate import DEFLATE_TAIL, Deflate
from harness.loadgen.payloads import PAYLOAD_VARIANTS, payload_variants
from harness.loadspec import ExpectedReply
from servers import contract

MESSAGE = json.dumps(contract.JSON_MESSAGE).encode()
EXPECT = ExpectedReply(contract.APPLICATION_JSON, MESSAGE)


def reply(
    status: str = "200 OK", content_type: str = "application/json", body: bytes = MESSAGE, extra: str = ""
) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def test_a_correct_reply_counts_with_its_wire_size():
    wire = reply()
    assert verify.HttpReplies(EXPECT).feed(wire) == [len(wire)]


def test_replies_split_anywhere_or_pipelined_are_reassembled():
    wire = reply()
    replies = verify.HttpReplies(EXPECT)
    sizes = []
    for i in range(len(wire)):  # one byte at a time
        sizes += replies.feed(wire[i : i + 1])
    assert sizes == [len(wire)]
    assert replies.feed(wire * 3) == [len(wire)] * 3


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (reply(status="500 Internal Server Error"), "status 'HTTP/1.1 500 Internal Server Error'"),
        (reply(content_type="text/html; charset=UTF-8"), "content type b'text/html; charset=UTF-8'"),
        (reply(body=MESSAGE.replace(b"!", b"?")), "wrong body: 28 bytes starting"),
        (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n", "unreadable Content-Length"),
    ],
    ids=["status", "content_type", "body", "no_length", "bad_length"],
)
def test_each_fault_is_named(wire, message):
    with pytest.raises(verify.ReplyError, match=message):
        verify.HttpReplies(EXPECT).feed(wire)


def test_a_100_MB_body_is_refused_from_its_head():
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
    replies = verify.HttpReplies(EXPECT)
    with pytest.raises(verify.ReplyError, match="announcing a 104857600-byte body, expected 28 bytes"):
        replies.feed(head + bytes(1024))  # the first KiB of the body: nothing more is awaited


def test_a_head_that_never_ends_is_refused():
    with pytest.raises(verify.ReplyError, match="no end of the response head"):
        verify.HttpReplies(EXPECT).feed(b"HTTP/1.1 200 OK\r\nX: " + b"x" * verify.MAX_HEAD_BYTES)


def test_a_reply_cut_short_is_an_error_at_eof_and_a_clean_eof_is_not():
    replies = verify.HttpReplies(EXPECT)
    assert replies.feed(reply()[:-10]) == []
    with pytest.raises(verify.ReplyError, match=f"connection closed {len(reply()) - 10} bytes into a reply"):
        replies.feed_eof()
    finished = verify.HttpReplies(EXPECT)
    finished.feed(reply())
    finished.feed_eof()


def test_etag_and_304():
    tag = contract.etag(MESSAGE)
    full = ExpectedReply(contract.APPLICATION_JSON, MESSAGE, etag=tag)
    assert verify.HttpReplies(full).feed(reply(extra=f"ETag: {tag}\r\n"))
    with pytest.raises(verify.ReplyError, match="ETag"):
        verify.HttpReplies(full).feed(reply(extra='ETag: "stale"\r\n'))
    not_modified = ExpectedReply("", b"", status=304, etag=tag)
    wire = f"HTTP/1.1 304 Not Modified\r\nETag: {tag}\r\nContent-Length: 28\r\n\r\n".encode()
    assert verify.HttpReplies(not_modified).feed(wire) == [len(wire)]  # a 304 has no body, whatever it says
    with pytest.raises(verify.ReplyError, match="status 'HTTP/1.1 200 OK'"):
        verify.HttpReplies(not_modified).feed(reply(extra=f"ETag: {tag}\r\n", body=b""))


# WebSocket messages: frames in, whole messages out.


def test_a_message_in_one_frame_or_fragments_is_reassembled():
    assembler = verify.MessageAssembler(verify.BINARY)
    assert assembler.frame(verify.BINARY, True, False, b"whole") == b"whole"
    assert assembler.frame(verify.BINARY, False, False, b"fra") is None
    assert assembler.frame(verify.CONTINUATION, False, False, b"gm") is None
    assert assembler.frame(verify.CONTINUATION, True, False, b"ents") == b"fragments"


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([(verify.TEXT, True, False, b"x")], "echo came back as TEXT, sent BINARY"),
        ([(verify.CONTINUATION, True, False, b"x")], "a continuation frame with no message to continue"),
        ([(verify.BINARY, False, False, b"x"), (verify.BINARY, True, False, b"y")], "before the fragmented one ended"),
        ([(verify.BINARY, True, True, b"x")], "compressed message on a connection without permessage-deflate"),
    ],
    ids=["type", "stray_continuation", "interleaved", "compressed_unasked"],
)
def test_frame_faults_are_named(frames, message):
    assembler = verify.MessageAssembler(verify.BINARY)
    with pytest.raises(verify.ReplyError, match=message):
        for frame in frames:
            assembler.frame(*frame)


def test_a_compressed_echo_is_inflated():
    server = zlib.compressobj(wbits=-15)
    deflate = Deflate({})
    assembler = verify.MessageAssembler(verify.TEXT, deflate.decompress)
    for message in payload_variants(1024, binary=False, payload="json")[:3]:
        wire = server.compress(message) + server.flush(zlib.Z_SYNC_FLUSH)
        assert assembler.frame(verify.TEXT, True, True, wire[: -len(DEFLATE_TAIL)]) == message


def test_check_echo_and_broadcast():
    verify.check_echo(b"same", b"same")
    with pytest.raises(verify.ReplyError, match="wrong echo: sent 4 bytes, got 5 bytes starting b'other'"):
        verify.check_echo(b"same", b"other")
    verify.check_broadcast(verify.TEXT, True, b"1:broadcast", b"1:broadcast")
    with pytest.raises(verify.ReplyError, match="wrong broadcast: got BINARY"):
        verify.check_broadcast(verify.BINARY, True, b"1:broadcast", b"1:broadcast")
    with pytest.raises(verify.ReplyError, match="wrong broadcast"):
        verify.check_broadcast(verify.TEXT, True, b"2:broadcast", b"1:broadcast")


# Payloads and the client's deflate.


@pytest.mark.parametrize("size", [200, 1024, 4096])
def test_json_payloads_are_exact_size_distinct_json(size):
    variants = payload_variants(size, binary=False, payload="json")
    assert len(set(variants)) == PAYLOAD_VARIANTS
    for variant in variants:
        assert len(variant) == size
        assert json.loads(variant)["items"]


def test_deflate_round_trip_against_a_zlib_peer():
    deflate = Deflate.negotiated("permessage-deflate; client_max_window_bits=12")
    assert deflate is not None and Deflate.negotiated("x-other") is None
    peer_in = zlib.decompressobj(-12)
    peer_out = zlib.compressobj(wbits=-15)
    for message in payload_variants(1024, binary=False, payload="json")[:3]:
        wire = deflate.compress(message)
        assert len(wire) < len(message)
        assert peer_in.decompress(wire + DEFLATE_TAIL) == message  # context kept across messages
        reply_wire = peer_out.compress(message) + peer_out.flush(zlib.Z_SYNC_FLUSH)
        assert deflate.decompress(reply_wire[: -len(DEFLATE_TAIL)]) == message
