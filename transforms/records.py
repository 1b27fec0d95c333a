"""The two kinds of record we export, events and profiles: how the store holds them, how outputs show them.

A `RecordShape` is the single place that knows field names and order for every output format, so the
encoders stay generic and the profile export is the same pipeline with another shape.
"""

import dataclasses

import pyarrow as pa

__all__ = ["Field", "RecordShape", "EVENTS", "PROFILES", "TS", "DAY"]

# Columns the pipeline adds next to the stored ones: the output time stamp and the partition date.
TS = "_ts"    # int64 yyyyMMddHHmmss in the export's time zone
DAY = "_day"  # int32 yyyymmdd in the export's time zone


@dataclasses.dataclass(frozen=True)
class Field:
    """One output field: `name` as written, `column` of the canonical table, `kind` int | str | map.

    `xml_named`: XML writes this map's children as elements named by their keys, as the seed does for
    `<profile>` and `<deviceInfo>` (xml_names says which keys can be names); other maps as entry pairs.
    """

    name: str
    column: str
    kind: str
    xml_named: bool = False


@dataclasses.dataclass(frozen=True)
class RecordShape:
    """Everything format-independent about a kind of record.

    `fields` is the canonical order (XML, Parquet, Avro); CSV and JSON have their own documented orders.
    Map columns hold JSON object text in the canonical table (the store's own text where it had text).
    """

    kind: str                      # "events" | "profiles"
    root: str                      # XML root element
    element: str                   # XML element per record
    store_schema: pa.Schema        # canonical table read from the store
    partition_folder: str          # top folder level of the store
    hour_folder: str               # optional second level
    id_column: str                 # unique id, the sort tie-break
    fields: tuple
    csv_order: tuple
    json_order: tuple
    json_omit_if_empty: frozenset = frozenset()
    name_column: str = ""          # column that splits files; empty: one fixed name
    fixed_name: str = ""

    def field(self, name):
        return next(f for f in self.fields if f.name == name)

    @property
    def map_fields(self):
        return tuple(f for f in self.fields if f.kind == "map")

    def event_time_column(self):
        """The time that dates a record (the yyyymmdd part, `ts`, the sort order)."""
        return "event_time" if self.kind == "events" else "updated_at"

    def window_column(self, time_basis):
        """The time a window applies to: event or capture time for events; update time for profiles."""
        if self.kind == "events" and time_basis == "capture":
            return "captured_at"
        return self.event_time_column()


EVENTS = RecordShape(
    kind="events",
    root="Events",
    element="Event",
    store_schema=pa.schema([
        ("event_id", pa.string()), ("event_name", pa.string()), ("event_time", pa.int64()),
        ("captured_at", pa.int64()), ("profile", pa.string()), ("device_info", pa.string()),
        ("event_props", pa.string()),
    ]),
    partition_folder="captured_date",
    hour_folder="captured_hour",
    id_column="event_id",
    fields=(
        Field("ts", TS, "int"), Field("eventName", "event_name", "str"), Field("profile", "profile", "map", xml_named=True),
        Field("deviceInfo", "device_info", "map", xml_named=True), Field("eventProps", "event_props", "map"),
    ),
    csv_order=("eventName", "ts", "profile", "deviceInfo", "eventProps"),
    json_order=("profile", "ts", "deviceInfo", "eventProps"),
    json_omit_if_empty=frozenset({"deviceInfo"}),
    name_column="event_name",
)

PROFILES = RecordShape(
    kind="profiles",
    root="Profiles",
    element="Profile",
    store_schema=pa.schema([
        ("identity", pa.string()), ("object_id", pa.string()), ("updated_at", pa.int64()),
        ("properties", pa.string()),
    ]),
    partition_folder="updated_date",
    hour_folder="updated_hour",
    id_column="identity",
    fields=(
        Field("identity", "identity", "str"), Field("objectId", "object_id", "str"), Field("ts", TS, "int"),
        Field("properties", "properties", "map", xml_named=True),
    ),
    csv_order=("identity", "objectId", "ts", "properties"),
    json_order=("identity", "objectId", "ts", "properties"),
    fixed_name="profiles",
)
