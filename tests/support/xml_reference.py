"""What XML's native kernel writes, in plain Python: the reference the kernel's tests compare it with."""

import pyarrow as pa

from transforms.formats import xml_format
from transforms.formats.xml_text import ByIndex, Escaped, Integers, Map

__all__ = ["python_records", "python_fragments"]


def python_records(out, length, parts):
    """xml_text.write_records by the Python rule, part by part and record by record."""
    columns = [_texts(part, length) for part in parts]
    out.write("".join("".join(column[row] for column in columns) for row in range(length)).encode())


def python_fragments(texts, name, named, python_rule):
    """xml_text.map_fragments by the Python rule alone."""
    return pa.array(python_rule(texts), pa.string())


def _texts(part, length):
    if isinstance(part, str):
        return [part] * length
    if isinstance(part, Integers):
        return ["" if value is None else str(value) for value in part.values.to_pylist()]
    if isinstance(part, Escaped):
        return ["" if value is None else xml_format.escape(value) for value in part.strings.to_pylist()]
    if isinstance(part, Map):
        return part.python_rule(part.texts)
    assert isinstance(part, ByIndex)
    fragments = part.fragments.to_pylist()
    return [fragments[index] for index in part.indices.to_pylist()]
