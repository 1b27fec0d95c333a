"""Which map keys XML writes as element names (`<email>..</email>`) rather than as entry pairs.

A key is an element name when every XML 1.0 parser takes it as one, so a customer's parser never
fails on a file because of a key:
- it is a Name by the fifth edition's NameStartChar/NameChar productions (libxml2, lxml);
- expat (Python's ElementTree), which keeps the fourth edition's narrower letter tables, also reads
  it: `ǅ` or an emoji is a fifth-edition name that expat refuses;
- it holds no colon, so namespace-aware parsers see no undeclared prefix;
- it does not start with `xml` in any case (reserved by the XML specification);
- it is not `entry`, so an `<entry>` child is always a key/value pair and never a key's own element.
Any other key (a space, a digit first, the empty key, `<`) is written as `<entry><key/><value/></entry>`.
"""

import functools
import re
from xml.parsers import expat

__all__ = ["is_element_name"]

_START = ("A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c\u200d"
          "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff")
_NAME = re.compile(f"[{_START}][{_START}\\-.0-9\u00b7\u0300-\u036f\u203f\u2040]*")
_ENTRY = "entry"


@functools.lru_cache(maxsize=1 << 16)   # keys repeat across maps and files; bounded for all-distinct keys
def is_element_name(key):
    """Can `key` be written as `<key>value</key>` (see the module's rules)?"""
    if not _NAME.fullmatch(key) or key[:3].lower() == "xml" or key == _ENTRY:
        return False
    try:
        expat.ParserCreate().Parse(f"<{key}/>", True)
    except expat.ExpatError:
        return False
    return True
