"""One encoder per output format behind one small interface.

An encoder turns the rows of one file (already sorted, already chosen by the sharder) into that
file's bytes on a stream. It never compresses (unless the format compresses inside itself, as Parquet
and Avro do), names or uploads: `compression` says what the caller must wrap around the stream.
"""

import abc

from transforms.formats.compression import Compression
from transforms.errors import ConfigError

__all__ = ["Encoder", "encoder_for", "FORMATS"]


class Encoder(abc.ABC):
    extension = ""                    # ".json": the object name's format part
    compression = Compression.GZIP    # what the caller wraps around the stream given to write_file

    def __init__(self, shape, parquet_codec="gzip"):
        self.shape = shape
        self.parquet_codec = parquet_codec

    @property
    def suffix(self):
        return self.extension + self.compression.suffix

    @abc.abstractmethod
    def write_file(self, rows, name, out):
        """Write one whole file holding `rows` (a table) of partition `name` to the binary stream `out`."""


def _registry():
    from transforms.formats import avro_format, csv_format, json_format, parquet_format, xml_format
    return {
        "json": json_format.JsonEncoder, "xml": xml_format.XmlEncoder, "csv": csv_format.CsvEncoder,
        "parquet": parquet_format.ParquetEncoder, "avro": avro_format.AvroEncoder,
    }


FORMATS = ("json", "xml", "csv", "parquet", "avro")


def encoder_for(fmt, shape, parquet_codec="gzip"):
    try:
        return _registry()[fmt](shape, parquet_codec)
    except KeyError:
        raise ConfigError(f"--format {fmt!r} is not supported: use one of {', '.join(FORMATS)}") from None
