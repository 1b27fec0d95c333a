"""Checking a batch against the store contract: good rows on, bad rows set aside with a reason.

Every map value must be a JSON object, because the JSON encoder splices the stored text into its
output unparsed. A whole batch is checked at once first, by Arrow's C++ JSON parser (no columns are
built: the schema is empty and every field ignored) plus a few vectorised guards for what a
line-by-line parse would let through. Only a batch that fails goes row by row with orjson, which finds
the bad rows, says why, and re-emits pretty-printed objects on one line.

The batch checks look at each column's distinct values only: a user's profile and a device's details
repeat across that user's events (in the benchmark store 183 distinct device texts in 50,000 rows,
under half the profiles distinct), and hashing a value is far cheaper than parsing it.
"""

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from transforms.arrow_text import holds_any, json_lines

__all__ = ["validate", "reject", "REASON_CODES"]

# The kinds of reason a record is rejected for, as the manifest's reconciliation counts them.
REASON_CODES = ("not_utf8", "not_json", "not_object", "wrong_type", "missing_field", "map_not_json",
                "map_not_object", "time_not_whole_ms", "event_time_out_of_range", "misfiled")

# NaN and Inf(inity) are numbers to Arrow's parser, not to JSON. Only as a value: the pattern reads the
# text from its start as characters and whole strings (escapes included), so `"a,NaN"` is no NaN, and
# a text whose strings hold one (the hostile store's are full of them) keeps the batch check. (Quotes
# open and close strings in valid JSON, the only JSON this must judge: invalid text fails the batch
# parse anyway.)
_NAN = r'^(?:[^"]|"(?:[^"\\]|\\.)*")*[:,\[]\s*-?(?:NaN|Inf)'
_EMPTY_OBJECT = r"^\{\s+\}$"
_PARSE = pa_json.ParseOptions(explicit_schema=pa.schema([]), unexpected_field_behavior="ignore")
_READ = pa_json.ReadOptions(use_threads=False, block_size=1 << 30)


def reject(path, reason, record, code):
    """A reject as the rejects objects show it (source, reason, record), plus `code`, the reason's kind
    (one of REASON_CODES), which the manifest counts rejects by and the objects leave out."""
    return {"source": path, "reason": reason, "code": code,
            "record": record if isinstance(record, str) else orjson.dumps(record, default=str).decode()}


def _objects_one_per_value(column):
    """Does every value of `column` (no nulls, no suspects) parse as exactly one JSON object?"""
    try:
        parsed = pa_json.read_json(pa.BufferReader(json_lines(column)), read_options=_READ, parse_options=_PARSE)
    except pa.ArrowInvalid:
        return False
    return parsed.num_rows == len(column)


def _suspect(column):
    """Values the batch parse must not judge, found with cheap kernels first: text not starting with '{'
    or not ending with '}' (empty, padded, not an object), a line break (it would split the line), or
    NaN/Infinity. Suspects send the batch to the row-by-row check, which decides."""
    if not (pc.all(pc.starts_with(column, "{")).as_py() and pc.all(pc.ends_with(column, "}")).as_py()):
        return True
    if holds_any(column, (b"\r", b"\n")):
        return True
    return holds_any(column, (b"NaN", b"Inf")) and pc.any(pc.match_substring_regex(column, _NAN)).as_py()


def _batch_is_valid(table, required, distinct):
    if any(table[name].null_count for name in required + list(distinct)):
        return False
    return not any(_suspect(values) or not _objects_one_per_value(values) for values in distinct.values())


def _validate_rows(path, table, required, map_columns, rejects):
    keep = []
    missing = {name: pc.is_null(table[name]).to_pylist() for name in required}
    texts = {name: table[name].to_pylist() for name in map_columns}
    fixed = {name: list(values) for name, values in texts.items()}
    for row in range(table.num_rows):
        reason = next((f"{name} is missing" for name in required if missing[name][row]), None)
        code = "missing_field"
        for name in map_columns:
            if reason:
                break
            text = texts[name][row]
            if text is None:
                fixed[name][row] = "{}"
                continue
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as error:
                reason, code = f"{name} is not valid JSON: {error}", "map_not_json"
                break
            if not isinstance(value, dict):
                reason, code = f"{name} is not a JSON object", "map_not_object"
            elif not value:
                fixed[name][row] = "{}"
            elif "\n" in text or "\r" in text:  # pretty-printed: re-emit on one line for JSON Lines output
                fixed[name][row] = orjson.dumps(value).decode()
        if reason:
            rejects.append(reject(path, reason, {n: table[n][row].as_py() for n in table.column_names}, code))
        keep.append(reason is None)
    good = table.filter(pa.array(keep, pa.bool_())) if not all(keep) else table
    for name in map_columns:
        values = [text for text, ok in zip(fixed[name], keep) if ok]
        good = good.set_column(good.schema.get_field_index(name), name, pa.array(values, pa.string()))
    return good


def validate(path, table, shape, rejects):
    """Good rows of `table`, map columns as one-line JSON object text ('{}' when empty); bad rows are
    appended to `rejects` as dicts with source, reason and the record."""
    map_columns = [f.column for f in shape.map_fields]
    required = [name for name in shape.store_schema.names if name not in map_columns]
    distinct = {name: pc.unique(table[name]) for name in map_columns}
    if not _batch_is_valid(table, required, distinct):
        return _validate_rows(path, table, required, map_columns, rejects)
    for name in map_columns:
        if pc.any(pc.match_substring_regex(distinct[name], _EMPTY_OBJECT)).as_py():
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pc.replace_substring_regex(table[name], _EMPTY_OBJECT, "{}"))
    return table
