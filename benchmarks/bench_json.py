"""JSON encoders and each framework's JSON helpers, in-process, on the article's 31 KB
document: the answer to its "Tornado serializes JSON 2x faster" (both call the stdlib)."""

import json

from harness import codecs, documents


class Encode31KB:
    params = [list(codecs.ENCODERS)]
    param_names = ["encoder"]

    def setup(self, encoder: str) -> None:
        self.document = documents.article_document()
        self.encode = codecs.ENCODERS[encoder]()  # NotImplementedError -> n/a

    def time_encode(self, encoder: str) -> None:
        self.encode(self.document)


class Decode31KB:
    params = [list(codecs.DECODERS)]
    param_names = ["decoder"]

    def setup(self, decoder: str) -> None:
        body = json.dumps(documents.article_document()).encode()
        self.decode = codecs.DECODERS[decoder](body)  # NotImplementedError -> n/a

    def time_decode(self, decoder: str) -> None:
        self.decode()
