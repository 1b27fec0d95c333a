/* XML's native kernel (transforms/formats/xml_text.py wraps it and says why).

   write_records: a slice of records as one XML text, from its parts in order (constant text, integers,
   text to escape, map texts to render, fragments by index), with no array in between.
   map_fragments: each JSON map text of a string array as its fragment (for the distinct values of a
   column whose values repeat, which write_records then copies by index).

   Map texts follow xml_format._map_element's rule, its oracle. A text the kernel does not take on (a
   number it cannot show as Python does, a key named twice, a value nested too deep, anything but a JSON
   object) is left out and reported, and so is the fragment of a text whose number of 16 or 17 digits
   Arrow must confirm: the caller puts the Python rule's fragment in its place. Both take Arrow arrays'
   buffers (buffer protocol, no copy) and hand back bytes; the GIL is released while they loop. */

#define PY_SSIZE_T_CLEAN
#include "arrays.h"
#include "maps.h"

/* ---- map_fragments --------------------------------------------------------------------------------- */

PyDoc_STRVAR(map_fragments_doc,
"map_fragments(offsets, data, offset, length, name, named, is_element_name)\n"
"    -> (offsets, data, python, (check_rows, check_offsets, check_data))\n\n"
"The XML fragment of each JSON object text of a string array (its offsets and data buffers, its offset\n"
"and length), as a string array's int32 offsets and data; `python` holds a byte per text, 1 where the\n"
"kernel left the text to the Python rule (its fragment is empty). Text check_rows[i] (int32) holds the\n"
"number i of the string array (check_offsets, check_data), a float of 16 or 17 digits that is right only\n"
"if they are the shortest repr of its double. Keys are element names only when `named`;\n"
"`is_element_name` decides keys that are not ASCII.");

static PyObject *map_fragments(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *offsets, *data, *is_name;
    Py_ssize_t offset, length, name_len;
    const char *name;
    int named;
    if (!PyArg_ParseTuple(args, "OOnns#pO:map_fragments", &offsets, &data, &offset, &length, &name, &name_len,
                          &named, &is_name))
        return NULL;
    Strings texts;
    if (open_strings(&texts, offsets, data, offset, length))
        return NULL;
    Gil gil = {0};
    Buf out = {.gil = &gil}, ends = {.gil = &gil};
    MapWriter w;
    PyObject *result = NULL, *python = PyBytes_FromStringAndSize(NULL, length);
    size_t size = length ? (size_t)(texts.at[length] - texts.at[0]) : 0;
    int32_t end_at = 0;
    if (open_map_writer(&w, &out, &gil, name, name_len, named, is_name) || !python
        || open_output(&out, 2 * size + (2 * name_len + 5) * length)
        || open_output(&ends, (length + 1) * sizeof(int32_t)))
        goto done;
    put(&ends, &end_at, sizeof(end_at));
    char *left = PyBytes_AS_STRING(python);
    gil_release(&gil);
    for (Py_ssize_t i = 0; i < length; i++) {
        const unsigned char *end, *text = value_at(&texts, i, &end);
        size_t start = out.len;
        w.row = i;
        int status = put_map(&w, text, end);
        if (status == -2)
            break;
        if (status == -1)
            out.len = start;
        left[i] = status == -1;
        if (out.len > INT32_MAX) {
            gil_take(&gil);
            PyErr_SetString(PyExc_OverflowError, "the XML of these maps is over 2 GiB: encode fewer at once");
            break;
        }
        end_at = (int32_t)out.len;
        put(&ends, &end_at, sizeof(end_at));
    }
    gil_take(&gil);
    if (PyErr_Occurred())
        goto done;
    PyObject *checks = close_map_writer(&w), *ends_bytes = close_output(&ends), *fragments = close_output(&out);
    if (checks && ends_bytes && fragments)
        result = Py_BuildValue("(OOOO)", ends_bytes, fragments, python, checks);
    Py_XDECREF(checks);
    Py_XDECREF(ends_bytes);
    Py_XDECREF(fragments);
done:
    close_map_writer(&w);
    Py_XDECREF(python);
    Py_XDECREF(out.owner);
    Py_XDECREF(ends.owner);
    close_strings(&texts);
    return result;
}

/* ---- write_records --------------------------------------------------------------------------------- */

enum { PART_TEXT, PART_INTEGERS, PART_ESCAPED, PART_MAP, PART_BY_INDEX };

/* One part of every record, as write_records' docstring describes it. */
typedef struct {
    int kind;
    const char *text;
    Py_ssize_t text_len;
    Strings strings;
    Py_buffer values, validity, indices;
    const int64_t *integers;
    const int32_t *index;
    const uint8_t *valid;
    Py_ssize_t valid_offset, index_count;
    MapWriter map;
    int map_open;
} Part;

/* Where the caller puts the Python rule's fragment: [start, end) of the text (empty where the kernel
   wrote nothing), for part `part` of record `row`. */
typedef struct {
    int64_t start, end;
    int32_t part, row;
} Span;

static int open_buffer(Py_buffer *view, PyObject *object, size_t needed, const char *what)
{
    if (PyObject_GetBuffer(object, view, PyBUF_SIMPLE))
        return -1;
    if ((size_t)view->len < needed) {
        PyErr_Format(PyExc_ValueError, "the %s buffer is shorter than the array", what);
        return -1;
    }
    return 0;
}

/* A part from its tuple; the tuple's objects outlive the call (the caller holds them). */
static int open_part(Part *part, PyObject *spec, Py_ssize_t length, Gil *gil, Buf *out, PyObject *is_name)
{
    PyObject *a = NULL, *b = NULL, *d = NULL, *e = NULL;
    Py_ssize_t n1 = 0, n2 = 0;
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 1) {
        PyErr_SetString(PyExc_TypeError, "a part is a tuple that starts with its kind");
        return -1;
    }
    part->kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
    if (part->kind == -1 && PyErr_Occurred())
        return -1;
    switch (part->kind) {
    case PART_TEXT:        /* (kind, bytes) */
        return PyArg_ParseTuple(spec, "iO", &part->kind, &a) ? PyBytes_AsStringAndSize(a, (char **)&part->text,
                                                                                        &part->text_len) : -1;
    case PART_INTEGERS:    /* (kind, int64 values, offset, validity or None, validity offset) */
    case PART_ESCAPED:     /* (kind, offsets, data, offset, validity or None, validity offset) */
        if (part->kind == PART_INTEGERS) {
            if (!PyArg_ParseTuple(spec, "iOnOn", &part->kind, &a, &n1, &d, &n2)
                || open_buffer(&part->values, a, (n1 + length) * sizeof(int64_t), "integers"))
                return -1;
            part->integers = (const int64_t *)part->values.buf + n1;
        } else if (!PyArg_ParseTuple(spec, "iOOnOn", &part->kind, &a, &b, &n1, &d, &n2)
                   || open_strings(&part->strings, a, b, n1, length)) {
            return -1;
        }
        if (d != Py_None) {
            if (open_buffer(&part->validity, d, (n2 + length + 7) / 8, "validity"))
                return -1;
            part->valid = part->validity.buf;
            part->valid_offset = n2;
        }
        return 0;
    case PART_MAP: {       /* (kind, offsets, data, offset, name, named) */
        const char *name;
        Py_ssize_t name_len;
        int named;
        if (!PyArg_ParseTuple(spec, "iOOns#p", &part->kind, &a, &b, &n1, &name, &name_len, &named)
            || open_strings(&part->strings, a, b, n1, length))
            return -1;
        part->map_open = 1;
        return open_map_writer(&part->map, out, gil, name, name_len, named, is_name);
    }
    case PART_BY_INDEX:    /* (kind, offsets, data, offset, count, int32 indices, indices offset) */
        if (!PyArg_ParseTuple(spec, "iOOnnOn", &part->kind, &a, &b, &n1, &part->index_count, &e, &n2)
            || open_strings(&part->strings, a, b, n1, part->index_count)
            || open_buffer(&part->indices, e, (n2 + length) * sizeof(int32_t), "indices"))
            return -1;
        part->index = (const int32_t *)part->indices.buf + n2;
        for (Py_ssize_t i = 0; i < length; i++)
            if (part->index[i] < 0 || part->index[i] >= part->index_count) {
                PyErr_SetString(PyExc_ValueError, "an index points outside its fragments");
                return -1;
            }
        return 0;
    default:
        PyErr_Format(PyExc_ValueError, "no part of kind %d", part->kind);
        return -1;
    }
}

static void close_part(Part *part)
{
    close_strings(&part->strings);
    if (part->values.obj)
        PyBuffer_Release(&part->values);
    if (part->validity.obj)
        PyBuffer_Release(&part->validity);
    if (part->indices.obj)
        PyBuffer_Release(&part->indices);
    if (part->map_open)
        Py_XDECREF(close_map_writer(&part->map));
}

static inline int is_valid(const Part *part, Py_ssize_t i)
{
    Py_ssize_t bit = part->valid_offset + i;
    return !part->valid || (part->valid[bit >> 3] >> (bit & 7) & 1);
}

static inline char *write_integer(char *d, int64_t value)
{
    char digits[20];
    int n = 0;
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0)
        *d++ = '-';
    while (n)
        *d++ = digits[--n];
    return d;
}

static int add_span(Buf *spans, size_t start, size_t end, Py_ssize_t part, Py_ssize_t row)
{
    Span span = {(int64_t)start, (int64_t)end, (int32_t)part, (int32_t)row};
    if (reserve(spans, sizeof(span)))
        return -1;
    put(spans, &span, sizeof(span));
    return 0;
}

/* Part p of record i appended to `out`; -1 on a Python error. */
static int write_part(Part *part, Py_ssize_t p, Py_ssize_t i, Buf *out, Buf *holes, Buf *checked)
{
    const unsigned char *text, *end;
    switch (part->kind) {
    case PART_TEXT:
        if (reserve(out, part->text_len))
            return -1;
        put(out, part->text, part->text_len);
        return 0;
    case PART_INTEGERS:
        if (!is_valid(part, i))
            return 0;
        if (reserve(out, 24))
            return -1;
        out->len = write_integer(out->data + out->len, part->integers[i]) - out->data;
        return 0;
    case PART_ESCAPED:
        if (!is_valid(part, i))
            return 0;
        text = value_at(&part->strings, i, &end);
        if (reserve(out, GROWTH * (size_t)(end - text) + 16))
            return -1;
        put_escaped(out, text, end - text);
        return 0;
    case PART_BY_INDEX:
        text = value_at(&part->strings, part->index[i], &end);
        if (reserve(out, end - text))
            return -1;
        put(out, text, end - text);
        return 0;
    }
    /* PART_MAP: a text left to Python is a hole; a fragment with numbers to check, a span to check */
    MapWriter *w = &part->map;
    size_t start = out->len, checks = w->check_rows.len, check_ends = w->check_ends.len, check_texts = w->checks.len;
    w->row = (Py_ssize_t)(checked->len / sizeof(Span));
    text = value_at(&part->strings, i, &end);
    int status = put_map(w, text, end);
    if (status == -2)
        return -1;
    if (status == -1) {         /* nothing of it stays: its text, and its numbers to check */
        out->len = start;
        w->check_rows.len = checks;
        w->check_ends.len = check_ends;
        w->checks.len = check_texts;
        return add_span(holes, start, start, p, i);
    }
    return w->check_rows.len > checks ? add_span(checked, start, out->len, p, i) : 0;
}

PyDoc_STRVAR(write_records_doc,
"write_records(parts, length, is_element_name, memory)\n"
"    -> (text, holes, checked, (check_rows, check_offsets, check_data))\n\n"
"`length` records as one XML text, each the concatenation of `parts`, written to the writable buffer\n"
"`memory` (`text` is then their length) or, where they outgrow it, to the bytes `text`. Parts are tuples of:\n"
"  (0, bytes)                                            the same text in every record\n"
"  (1, int64 buffer, offset, validity or None, offset)   an integer (nothing where null)\n"
"  (2, offsets, data, offset, validity or None, offset)  a string, escaped (nothing where null)\n"
"  (3, offsets, data, offset, name, named)               a JSON map text's fragment\n"
"  (4, offsets, data, offset, count, int32 indices, offset)  fragment indices[i] of `count`, as it is\n"
"`holes` and `checked` are arrays of (int64 start, int64 end, int32 part, int32 record): where a map\n"
"text was left to the Python rule (start == end), and the fragments holding the numbers to check\n"
"(check_rows[i] is the index in `checked` of number i, as in map_fragments).");

static PyObject *write_records(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *specs, *is_name, *memory, *result = NULL;
    Py_ssize_t length;
    if (!PyArg_ParseTuple(args, "O!nOO:write_records", &PyTuple_Type, &specs, &length, &is_name, &memory))
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(memory, &view, PyBUF_WRITABLE))
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(specs), opened = 0;
    Gil gil = {0};
    Buf out = {.gil = &gil}, holes = {.gil = &gil}, checked = {.gil = &gil};
    Part *parts = PyMem_Calloc(count ? count : 1, sizeof(Part));
    if (!parts) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    if (open_output(&holes, 256) || open_output(&checked, 256))
        goto done;
    for (; opened < count; opened++)
        if (open_part(&parts[opened], PyTuple_GET_ITEM(specs, opened), length, &gil, &out, is_name)) {
            opened++;
            goto done;
        }
    open_external(&out, view.buf, view.len);
    gil_release(&gil);
    for (Py_ssize_t i = 0; i < length; i++)
        for (Py_ssize_t p = 0; p < count; p++)
            if (write_part(&parts[p], p, i, &out, &holes, &checked))
                goto looped;
looped:
    gil_take(&gil);
    if (PyErr_Occurred())
        goto done;
    /* every map part's numbers to check, as one list (each tagged with its span in `checked`) */
    PyObject *rows = NULL, *ends = NULL, *texts = NULL;
    Buf all_rows = {0}, all_ends = {0}, all_texts = {0};
    int32_t base = 0;
    if (open_output(&all_rows, 256) || open_output(&all_ends, 256) || open_output(&all_texts, 256)
        || reserve(&all_ends, sizeof(base)))
        goto merged;
    put(&all_ends, &base, sizeof(base));
    for (Py_ssize_t p = 0; p < count; p++) {
        MapWriter *w = &parts[p].map;
        if (parts[p].kind != PART_MAP || w->check_rows.len == 0)
            continue;
        const int32_t *their_ends = (const int32_t *)w->check_ends.data + 1;
        size_t n = w->check_rows.len / sizeof(int32_t);
        if (reserve(&all_rows, w->check_rows.len) || reserve(&all_ends, w->check_rows.len)
            || reserve(&all_texts, w->checks.len))
            goto merged;
        put(&all_rows, w->check_rows.data, w->check_rows.len);
        for (size_t k = 0; k < n; k++) {
            int32_t at = base + their_ends[k];
            put(&all_ends, &at, sizeof(at));
        }
        put(&all_texts, w->checks.data, w->checks.len);
        base += (int32_t)w->checks.len;
    }
    rows = close_output(&all_rows);
    ends = close_output(&all_ends);
    texts = close_output(&all_texts);
    PyObject *text = out.external ? PyLong_FromSize_t(out.len) : close_output(&out);
    PyObject *hole_bytes = close_output(&holes), *checked_bytes = close_output(&checked);
    if (rows && ends && texts && text && hole_bytes && checked_bytes)
        result = Py_BuildValue("(OOO(OOO))", text, hole_bytes, checked_bytes, rows, ends, texts);
    Py_XDECREF(text);
    Py_XDECREF(hole_bytes);
    Py_XDECREF(checked_bytes);
merged:
    Py_XDECREF(rows);
    Py_XDECREF(ends);
    Py_XDECREF(texts);
    Py_XDECREF(all_rows.owner);
    Py_XDECREF(all_ends.owner);
    Py_XDECREF(all_texts.owner);
done:
    for (Py_ssize_t p = 0; p < opened; p++)
        close_part(&parts[p]);
    PyMem_Free(parts);
    Py_XDECREF(out.owner);
    Py_XDECREF(holes.owner);
    Py_XDECREF(checked.owner);
    PyBuffer_Release(&view);
    return result;
}

/* ---- the module -------------------------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"map_fragments", map_fragments, METH_VARARGS, map_fragments_doc},
    {"write_records", write_records, METH_VARARGS, write_records_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, .m_name = "_xml_text", .m_size = -1, .m_methods = methods};

PyMODINIT_FUNC PyInit__xml_text(void)
{
    init_classes();
    return PyModule_Create(&module);
}
