/* JSON map texts as XML fragments (xml_format._map_element's rule): read, sort, write. */

#ifndef XML_NATIVE_MAPS_H
#define XML_NATIVE_MAPS_H

#include "numbers.h"

/* A member of the text being read: its key decoded, its value as it is written (escaped). Each is its
   span in the input where it needs no change, else in the scratch buffer, which does not move while a
   text is read and written. */
typedef struct {
    const unsigned char *key, *value;
    size_t key_len, value_len;
} Member;

/* What writes a map column's fragments: the buffer they go to (the caller's), its scratch, and the
   numbers Arrow must confirm (put_number): their texts, ends, and the tag (`row`) the caller gives each. */
typedef struct {
    Gil *gil;
    Buf *out, scratch;
    Buf checks, check_ends, check_rows;
    Py_ssize_t row;
    Member *members;
    size_t members_cap;
    const char *name;
    size_t name_len;
    int named;
    PyObject *is_element_name;
} MapWriter;

static inline ALWAYS_INLINE const unsigned char *skip_space(const unsigned char *s, const unsigned char *end)
{
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    return s;
}

static int add_member(MapWriter *w, size_t count)
{
    if (count < w->members_cap)
        return 0;
    size_t cap = w->members_cap ? w->members_cap * 2 : 64;
    gil_take(w->gil);
    Member *grown = PyMem_Realloc(w->members, cap * sizeof(Member));
    if (!grown)
        PyErr_NoMemory();
    gil_release(w->gil);
    if (!grown)
        return -1;
    w->members = grown;
    w->members_cap = cap;
    return 0;
}

/* A number of the text being read whose digits Arrow must confirm (put_number). */
static int add_check(MapWriter *w, const unsigned char *text, size_t len)
{
    int32_t row = (int32_t)w->row;
    if (reserve(&w->checks, len) || reserve(&w->check_ends, sizeof(int32_t)) || reserve(&w->check_rows, sizeof(int32_t)))
        return -1;
    put(&w->checks, text, len);
    int32_t at = (int32_t)w->checks.len;
    put(&w->check_ends, &at, sizeof(at));
    put(&w->check_rows, &row, sizeof(row));
    return 0;
}

#include "nested.h"     /* put_nested, which needs MapWriter and add_check */

/* Reads one text's members into w->members; returns their count, -1 where the Python rule must decide,
   -2 on a Python error. */
static Py_ssize_t read_members(MapWriter *w, const unsigned char *s, const unsigned char *end)
{
    Buf *scratch = &w->scratch;
    scratch->len = 0;
    if (reserve(scratch, GROWTH * (size_t)(end - s) + 16))
        return -2;
    size_t count = 0;
    s = skip_space(s, end);
    if (s >= end || *s != '{')
        return -1;
    s = skip_space(s + 1, end);
    if (s < end && *s == '}')
        return skip_space(s + 1, end) == end ? 0 : -1;
    for (;;) {
        if (s >= end || *s != '"')
            return -1;
        if (add_member(w, count))
            return -2;
        Member *m = &w->members[count++];
        if (read_string(&s, end, scratch, 0, &m->key, &m->key_len))
            return -1;
        s = skip_space(s, end);
        if (s >= end || *s != ':')
            return -1;
        s = skip_space(s + 1, end);
        if (s >= end)
            return -1;
        const unsigned char *text = (const unsigned char *)scratch->data + scratch->len;
        m->value = text;
        if (*s == '"') {
            if (read_string(&s, end, scratch, 1, &m->value, &m->value_len))
                return -1;
        } else {
            if (*s == '-' || is_digit(*s)) {
                int check = put_number(scratch, &s, end);
                if (check < 0)
                    return -1;
                if (check && add_check(w, text, (const unsigned char *)scratch->data + scratch->len - text))
                    return -2;
            } else if (end - s >= 4 && !memcmp(s, "true", 4)) {
                PUT_LITERAL(scratch, "true");
                s += 4;
            } else if (end - s >= 5 && !memcmp(s, "false", 5)) {
                PUT_LITERAL(scratch, "false");
                s += 5;
            } else if (end - s >= 4 && !memcmp(s, "null", 4)) {
                s += 4;
            } else if (*s == '{' || *s == '[') {
                int status = put_nested(w, &s, end, 0);
                if (status)
                    return status;
            } else {
                return -1;                   /* no JSON */
            }
            m->value_len = (const unsigned char *)scratch->data + scratch->len - text;
        }
        s = skip_space(s, end);
        if (s < end && *s == ',') {
            s = skip_space(s + 1, end);
            continue;
        }
        if (s < end && *s == '}')
            return skip_space(s + 1, end) == end ? (Py_ssize_t)count : -1;
        return -1;
    }
}

static inline ALWAYS_INLINE int by_key(const Member *x, const Member *y)
{
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int order = n ? memcmp(x->key, y->key, n) : 0;     /* UTF-8 byte order is code point order */
    return order ? order : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Members in key order; -1 where a key is named twice (the Python rule keeps the last). An insertion
   sort: a map has a handful of members, often in order already. */
static int sort_members(Member *members, Py_ssize_t count)
{
    for (Py_ssize_t i = 1; i < count; i++) {
        Member m = members[i];
        Py_ssize_t j = i;
        int order = 1;
        while (j > 0 && (order = by_key(&members[j - 1], &m)) > 0) {
            members[j] = members[j - 1];
            j--;
        }
        if (j > 0 && order == 0)
            return -1;
        members[j] = m;
    }
    return 0;
}

static inline ALWAYS_INLINE int name_start(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? 1 : c == '_'; }
static inline ALWAYS_INLINE int name_char(unsigned char c) { return name_start(c) || is_digit(c) || c == '-' || c == '.'; }

/* Is the key an element name (xml_names.is_element_name)? ASCII keys are decided here; a key with any
   other character by the Python rule. 1 yes, 0 no, -1 a Python error. */
static int is_element_name(MapWriter *w, const unsigned char *key, size_t n)
{
    if (!n || (key[0] < 0x80 && !name_start(key[0])))
        return 0;
    int ascii = 1;
    for (size_t i = 0; i < n; i++) {
        if (key[i] >= 0x80)
            ascii = 0;
        else if (!name_char(key[i]))
            return 0;
    }
    if (ascii) {
        if (n >= 3 && (key[0] | 0x20) == 'x' && (key[1] | 0x20) == 'm' && (key[2] | 0x20) == 'l')
            return 0;
        return !(n == 5 && !memcmp(key, "entry", 5));
    }
    gil_take(w->gil);
    int yes = -1;
    PyObject *text = PyUnicode_DecodeUTF8((const char *)key, n, "strict");
    PyObject *answer = text ? PyObject_CallOneArg(w->is_element_name, text) : NULL;
    if (answer)
        yes = PyObject_IsTrue(answer);
    Py_XDECREF(text);
    Py_XDECREF(answer);
    gil_release(w->gil);
    return yes;
}

/* One text's fragment appended to *w->out: 0 written, -1 left to the Python rule (the caller drops what
   was written), -2 a Python error. */
static int put_map(MapWriter *w, const unsigned char *s, const unsigned char *end)
{
    Py_ssize_t count = read_members(w, s, end);
    if (count < 0)
        return (int)count;
    Member *members = w->members;
    size_t bound = 2 * w->name_len + 5;
    for (Py_ssize_t i = 0; i < count; i++)
        bound += GROWTH * members[i].key_len + members[i].value_len + 48;
    if (sort_members(members, count))
        return -1;
    Buf *out = w->out;
    if (reserve(out, bound))
        return -2;
    out->data[out->len++] = '<';
    put(out, w->name, w->name_len);
    out->data[out->len++] = '>';
    for (Py_ssize_t i = 0; i < count; i++) {
        Member *m = &members[i];
        int named = w->named ? is_element_name(w, m->key, m->key_len) : 0;
        if (named < 0)
            return -2;
        if (named) {
            out->data[out->len++] = '<';
            put(out, m->key, m->key_len);
            out->data[out->len++] = '>';
        } else {
            PUT_LITERAL(out, "<entry><key>");
            put_escaped(out, m->key, m->key_len);
            PUT_LITERAL(out, "</key><value>");
        }
        put(out, m->value, m->value_len);
        if (named) {
            PUT_LITERAL(out, "</");
            put(out, m->key, m->key_len);
            out->data[out->len++] = '>';
        } else {
            PUT_LITERAL(out, "</value></entry>");
        }
    }
    PUT_LITERAL(out, "</");
    put(out, w->name, w->name_len);
    out->data[out->len++] = '>';
    return 0;
}

/* A writer of fragments into `out`, with the GIL state `gil` (released by the caller while it loops). */
static int open_map_writer(MapWriter *w, Buf *out, Gil *gil, const char *name, size_t name_len, int named,
                           PyObject *is_element_name)
{
    memset(w, 0, sizeof(*w));
    *w = (MapWriter){.gil = gil, .out = out, .name = name, .name_len = name_len, .named = named,
                     .is_element_name = is_element_name};
    int32_t zero = 0;
    if (open_output(&w->checks, 256) || open_output(&w->check_rows, 256) || open_output(&w->check_ends, 256))
        return -1;
    put(&w->check_ends, &zero, sizeof(zero));
    w->scratch.gil = w->checks.gil = w->check_rows.gil = w->check_ends.gil = gil;
    return 0;
}

/* The numbers to check, (rows, ends, texts) as bytes (the GIL held); the writer's own memory is freed. */
static PyObject *close_map_writer(MapWriter *w)
{
    PyObject *rows = close_output(&w->check_rows), *ends = close_output(&w->check_ends);
    PyObject *texts = close_output(&w->checks), *result = NULL;
    if (rows && ends && texts)
        result = Py_BuildValue("(OOO)", rows, ends, texts);
    Py_XDECREF(rows);
    Py_XDECREF(ends);
    Py_XDECREF(texts);
    Py_CLEAR(w->checks.owner);
    Py_CLEAR(w->check_rows.owner);
    Py_CLEAR(w->check_ends.owner);
    PyMem_Free(w->scratch.data);
    PyMem_Free(w->members);
    w->scratch.data = NULL;
    w->members = NULL;
    return result;
}

#endif
