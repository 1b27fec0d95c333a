"""A Parquet file too big to hold as one table, written a slice of rows at a time.

A map's struct has the whole file's keys, each with the type the whole file's values agree on
(parquet_format's rule), but a slice knows only its own. Typing a slice is the costly part (a parse of
its distinct texts), so it is done once: the first pass types each slice and keeps it, typed, in a
scratch file (Arrow IPC, memory-mapped back); the keys' agreed types then follow from the slices' own
(`agreed_type`), and the second pass casts each kept slice to them and writes it as a row group. Memory
follows the slice, not the file. The one cast Arrow cannot do as the rule does, a double shown as text
(where a key is a number in one slice and text in another), takes that slice's texts through Python.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.formats.typed_maps import Distinct
from transforms.formats.values import as_text, parse_maps, slices
from transforms.formats.encoder_scratch import Scratch

__all__ = ["agreed_type", "write_sliced"]

# Rows gathered into one row group, by their Arrow size: a row group's dictionaries and compression
# work better the bigger it is, and the writer holds all of it until it closes.
ROW_GROUP_BYTES = 32 << 20


def agreed_type(types):
    """The type a key's values take in the whole file, from its type in each slice (None: the slice has
    no non-null value of it): bool or numbers alone keep their type (int and double make double);
    anything else, or no value at all, is string."""
    seen = {t for t in types if t is not None}
    if seen == {pa.bool_()}:
        return pa.bool_()
    if seen and seen <= {pa.int64(), pa.float64()}:
        return pa.float64() if pa.float64() in seen else pa.int64()
    return pa.string()


def _key_types(struct):
    """{key: type, or None when every row's value is null} of one slice's struct (None: no keys)."""
    if struct is None:
        return {}
    return {field.name: (None if struct.field(i).null_count == len(struct) else field.type)
            for i, field in enumerate(struct.type)}


def _as_strings_by_python(column, key):
    """One key of a slice's distinct map texts, each value as as_text shows it (null where absent or null)."""
    values = [m.get(key) for m in parse_maps(Distinct(column).values)]
    return pa.array([None if v is None else as_text(v) for v in values], pa.string())


def _cast_struct(struct, column, fields, indices):
    """A slice's struct of distinct texts (or None) with exactly `fields` (the file's keys and agreed
    types), in order, spread to the slice's rows by `indices`."""
    rows = 1 if struct is None else len(struct)
    children = []
    for field in fields:
        index = -1 if struct is None else struct.type.get_field_index(field.name)
        child = struct.field(index) if index >= 0 else None
        if child is None or child.null_count == rows:
            child = pa.nulls(rows, field.type)
        elif child.type != field.type:
            if child.type == pa.float64() and field.type == pa.string():
                child = _as_strings_by_python(column, field.name)
            else:   # int64 -> double; int64 or bool -> text, which Arrow writes as as_text does
                child = pc.cast(child, field.type)
        children.append(child)
    return pa.StructArray.from_arrays(children, fields=fields).take(indices)


def write_sliced(rows, shape, struct_of, open_writer):
    """Write `rows` (SortedRows) as one Parquet file, a row group per ROW_GROUP_BYTES of rows.

    `struct_of(column)` types one slice's map column: (struct of its distinct texts, or None when no text
    has a key; its typed_maps.Distinct); `open_writer(schema)` gives the ParquetWriter for the file's
    schema."""
    maps = [field for field in shape.fields if field.kind == "map"]
    pieces = list(slices(rows))
    with Scratch() as scratch:
        keys = {field.name: {} for field in maps}
        for piece in pieces:
            columns, names = [], []
            for field in maps:
                struct, distinct = struct_of(piece[field.column])
                for key, kind in _key_types(struct).items():
                    keys[field.name].setdefault(key, []).append(kind)
                if struct is not None:   # kept once per distinct text, with each row's index into them
                    columns.append(pa.DictionaryArray.from_arrays(distinct.indices, struct))
                    names.append(field.name)
            scratch.add(pa.table(columns, names=names) if columns else pa.table({"_": pa.nulls(piece.num_rows)}))
        fields = {name: [pa.field(key, agreed_type(types)) for key, types in sorted(found.items())]
                  for name, found in keys.items()}
        writer, group, held = None, [], 0
        for number, (piece, kept) in enumerate(zip(pieces, scratch.tables())):
            group.append(_cast_slice(kept, piece, shape, fields))
            held += piece.nbytes
            if held < ROW_GROUP_BYTES and number + 1 < len(pieces):
                continue
            table = pa.concat_tables(group)
            if writer is None:
                writer = open_writer(table.schema)
            writer.write_table(table, row_group_size=table.num_rows)
            group, held, table = [], 0, None
        if writer is not None:
            writer.close()


def _cast_slice(kept, piece, shape, fields):
    """One slice's table as written: its plain columns, and its kept structs cast to the file's fields."""
    columns, names = [], []
    for field in shape.fields:
        if field.kind != "map":
            columns.append(piece[field.column])
        elif fields[field.name]:
            if field.name in kept.column_names:
                encoded = kept[field.name].combine_chunks()
                struct, indices = encoded.dictionary, encoded.indices
            else:
                struct, indices = None, pa.array(np.zeros(piece.num_rows, dtype=np.int32))
            columns.append(_cast_struct(struct, piece[field.column], fields[field.name], indices))
        else:
            continue   # empty in every row of the file: left out, as a whole file leaves it
        names.append(field.name)
    return pa.table(columns, names=names)
