/* XML text from the store's JSON, one pass per value (transforms/formats/xml_text.py wraps it).

   map_fragments: each flat JSON object text of an Arrow string array -> `<name>` + its members sorted by
   key + `</name>`, each member `<key>value</key>` or `<entry><key>key</key><value>value</value></entry>`
   (xml_format._map_element is the rule and the oracle). The text is read, its strings unescaped from
   JSON and escaped for XML, and the fragment written in one pass, instead of a parse into typed columns
   and a kernel pass per key and per character. A text this kernel does not take on (a nested value, a
   number it cannot show as Python does, a key named twice, anything but a valid flat object) is marked
   and left empty: the caller renders it with the Python rule, so both give the same bytes.

   escape_texts: each value of an Arrow string array escaped for XML (xml_format.escape).

   Both take an array's offsets and data buffers (buffer protocol, no copy) and return the new array's
   offsets and data as bytes. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* The GIL, released while the kernels loop over values (so the reading and compressing threads run
   beside them) and taken back for what needs Python: growing a buffer, the rare key or number Python
   decides. */
typedef struct {
    PyThreadState *saved;      /* not NULL while released */
} Gil;

static inline void gil_take(Gil *gil)
{
    if (gil && gil->saved) {
        PyEval_RestoreThread(gil->saved);
        gil->saved = NULL;
    }
}

static inline void gil_release(Gil *gil)
{
    if (gil && !gil->saved)
        gil->saved = PyEval_SaveThread();
}

/* A growing byte buffer. The output's memory is a bytes object from the start (`owner`), grown in
   place and handed to the caller without a copy; scratch memory is plain. */
typedef struct {
    char *data;
    size_t len, cap;
    PyObject *owner;
    Gil *gil;
} Buf;

static int grow(Buf *b, size_t cap)
{
    if (b->owner) {
        if (_PyBytes_Resize(&b->owner, (Py_ssize_t)cap))
            return -1;
        b->data = PyBytes_AS_STRING(b->owner);
    } else {
        char *grown = PyMem_Realloc(b->data, cap);
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        b->data = grown;
    }
    b->cap = cap;
    return 0;
}

static int reserve(Buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + more)
        cap += cap / 2;
    gil_take(b->gil);
    int failed = grow(b, cap);
    gil_release(b->gil);
    return failed;
}

/* An output buffer of `cap` bytes to begin with. */
static int open_output(Buf *b, size_t cap)
{
    b->owner = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(cap ? cap : 1));
    if (!b->owner)
        return -1;
    b->data = PyBytes_AS_STRING(b->owner);
    b->len = 0;
    b->cap = cap ? cap : 1;
    return 0;
}

/* The output as a bytes object of its length (a new reference), or NULL. */
static PyObject *close_output(Buf *b)
{
    PyObject *bytes = b->owner;
    b->owner = NULL;
    if (_PyBytes_Resize(&bytes, (Py_ssize_t)b->len))
        return NULL;
    return bytes;
}

static inline void put(Buf *b, const void *src, size_t n)
{
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

/* A run of n bytes at s, copied as 16 when short and 16 bytes can be read before `limit` (text dense with
   escapes has many short runs, and a call to memcpy each cost more than the copy); the caller reserved 16
   bytes more than it writes. */
static inline void put_run(Buf *b, const unsigned char *s, size_t n, const unsigned char *limit)
{
    if (n <= 16 && limit - s >= 16)
        memcpy(b->data + b->len, s, 16);
    else
        memcpy(b->data + b->len, s, n);
    b->len += n;
}

#define PUT_LITERAL(b, s) put((b), (s), sizeof(s) - 1)

/* The most bytes one input byte becomes (`&` -> `&amp;`), so one reserve covers a whole value. */
#define GROWTH 5

static const char REPLACEMENT[] = "\xef\xbf\xbd"; /* U+FFFD */

/* Bytes a scan stops at. In decoded text: what escaping changes (`&`, `<`, `>`, controls, 0xEF, which
   starts U+FFFE and U+FFFF). In a JSON string's body: those and its end, an escape, a raw control (not JSON). */
enum { STOP_TEXT = 1, STOP_JSON = 2 };
static unsigned char stops[256];
static signed char hex_value[256];   /* a hex digit's value, -1 for any other byte */
static unsigned char json_simple[256];  /* what `\\x` stands for (`\\n` a newline), 0 for `\\u` and non-escapes */

/* An ASCII character as escaped text: itself, its entity, or U+FFFD; written as 8 bytes at once. */
typedef struct {
    char text[7];
    unsigned char len;
} Piece;
static Piece xml_piece[128];

static void init_classes(void)
{
    for (int c = 0; c < 0x20; c++)
        stops[c] = STOP_TEXT | STOP_JSON;
    stops['&'] = stops['<'] = stops['>'] = stops[0xEF] = STOP_TEXT | STOP_JSON;
    stops['"'] = stops['\\'] = STOP_JSON;
    for (int c = 0; c < 128; c++) {
        const char *text = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '\r' ? "&#13;"
                         : c < 0x20 && c != '\t' && c != '\n' ? REPLACEMENT : NULL;
        xml_piece[c].len = text ? (unsigned char)strlen(text) : 1;
        if (text)
            memcpy(xml_piece[c].text, text, xml_piece[c].len);
        else
            xml_piece[c].text[0] = (char)c;
    }
    const char *simple = "\"\"\\\\//b\bf\fn\nr\rt\t";
    for (int k = 0; simple[k]; k += 2)
        json_simple[(unsigned char)simple[k]] = (unsigned char)simple[k + 1];
    memset(hex_value, -1, sizeof(hex_value));
    for (int c = 0; c < 10; c++)
        hex_value['0' + c] = (signed char)c;
    for (int c = 0; c < 6; c++)
        hex_value['a' + c] = hex_value['A' + c] = (signed char)(10 + c);
}

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The index of the first byte of s[0, n) in the stop set `set` (n when there is none), 16 bytes at a time
   where SSE2 is there (every x86-64). Tab and newline stop a text scan too; the caller copies them. */
static inline size_t find_stop(const unsigned char *s, size_t n, int set)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i amp = _mm_set1_epi8('&'), lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>');
    const __m128i ef = _mm_set1_epi8((char)0xEF), control = _mm_set1_epi8(0x1F);
    const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, amp), _mm_cmpeq_epi8(x, lt)),
                                   _mm_or_si128(_mm_cmpeq_epi8(x, gt), _mm_cmpeq_epi8(x, ef)));
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_min_epu8(x, control), x));     /* x <= 0x1F */
        if (set & STOP_JSON)
            hit = _mm_or_si128(hit, _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, slash)));
        int mask = _mm_movemask_epi8(hit);
        if (mask)
            return i + (size_t)__builtin_ctz((unsigned)mask);
    }
#endif
    while (i < n && !(stops[s[i]] & set))
        i++;
    return i;
}

/* U+FFFE and U+FFFF (EF BF BE, EF BF BF) become U+FFFD; any other byte 0xEF starts a character kept as is.
   Returns the input bytes taken. */
static size_t put_ef(Buf *out, const unsigned char *s, size_t left)
{
    if (left >= 3 && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF)) {
        PUT_LITERAL(out, REPLACEMENT);
        return 3;
    }
    out->data[out->len++] = (char)s[0];
    return 1;
}

static void put_utf8(Buf *out, uint32_t cp)
{
    char *d = out->data + out->len;
    if (cp < 0x80) {
        d[0] = (char)cp;
        out->len += 1;
    } else if (cp < 0x800) {
        d[0] = (char)(0xC0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3F));
        out->len += 2;
    } else if (cp < 0x10000) {
        d[0] = (char)(0xE0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        out->len += 3;
    } else {
        d[0] = (char)(0xF0 | cp >> 18);
        d[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        d[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        d[3] = (char)(0x80 | (cp & 0x3F));
        out->len += 4;
    }
}

static int hex4(const unsigned char *s, uint32_t *value)
{
    int a = hex_value[s[0]], b = hex_value[s[1]], c = hex_value[s[2]], d = hex_value[s[3]];
    if ((a | b | c | d) < 0)
        return -1;
    *value = (uint32_t)(a << 12 | b << 8 | c << 4 | d);
    return 0;
}

/* An ASCII character, escaped as text (`escape`) or as it is; 8 bytes written, the caller reserved them. */
static inline void put_ascii(Buf *b, unsigned char c, int escape)
{
    if (!escape) {
        b->data[b->len++] = (char)c;
        return;
    }
    memcpy(b->data + b->len, xml_piece[c].text, 8);
    b->len += xml_piece[c].len;
}

/* Decoded UTF-8 text, escaped; the caller reserved GROWTH bytes per input byte and 8 more. */
static void put_escaped(Buf *out, const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t run = i + find_stop(s + i, n - i, STOP_TEXT);
        put(out, s + i, run - i);
        i = run;
        if (i == n)
            break;
        if (s[i] == 0xEF)
            i += put_ef(out, s + i, n - i);
        else
            put_ascii(out, s[i++], 1);
    }
}

/* `\\uXXXX` (and its low surrogate) at s, written decoded (escaped when `escape`); the bytes taken, 0
   where it is malformed or a lone surrogate (the Python rule decides). */
static inline size_t put_unicode_escape(Buf *b, const unsigned char *s, const unsigned char *end, int escape)
{
    uint32_t cp, low;
    if (end - s < 6 || hex4(s + 2, &cp))
        return 0;
    size_t taken = 6;
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        if (cp > 0xDBFF || end - s < 12 || s[6] != '\\' || s[7] != 'u' || hex4(s + 8, &low)
            || low < 0xDC00 || low > 0xDFFF)
            return 0;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        taken = 12;
    }
    if (cp < 0x80)
        put_ascii(b, (unsigned char)cp, escape);
    else if (escape && (cp == 0xFFFE || cp == 0xFFFF))
        put(b, REPLACEMENT, 3);
    else
        put_utf8(b, cp);
    return taken;
}

/* A JSON string from its opening quote at *p, ready to be written: decoded, and escaped for XML when
   `escape`. Where it holds nothing to decode or escape, it is its span in the input; else it is written
   to `scratch` (GROWTH bytes per input byte and 16 more reserved). -1 where it is not JSON (unterminated,
   a raw control) or holds an escape the Python rule must decide. *p moves past the closing quote. */
static inline int read_string(const unsigned char **p, const unsigned char *end, Buf *scratch, int escape,
                              const unsigned char **text, size_t *len)
{
    const unsigned char *s = *p + 1;
    size_t run = find_stop(s, end - s, STOP_JSON);
    if (s + run < end && s[run] == '"') {
        *text = s;
        *len = run;
        *p = s + run + 1;
        return 0;
    }
    const unsigned char *start = (const unsigned char *)scratch->data + scratch->len;
    for (;;) {
        put_run(scratch, s, run, end);
        s += run;
        if (s >= end)
            return -1;
        unsigned char c = *s;
        if (c == '"')
            break;
        if (c == '\\') {
            unsigned char simple = s + 1 < end ? json_simple[s[1]] : 0;
            if (simple) {
                put_ascii(scratch, simple, escape);
                s += 2;
            } else {
                size_t taken = s + 1 < end && s[1] == 'u' ? put_unicode_escape(scratch, s, end, escape) : 0;
                if (!taken)
                    return -1;
                s += taken;
            }
        } else if (c < 0x20) {
            return -1;
        } else if (!escape) {
            scratch->data[scratch->len++] = (char)c;
            s++;
        } else if (c == 0xEF) {
            s += put_ef(scratch, s, end - s);
        } else {
            put_ascii(scratch, c, 1);
            s++;
        }
        run = find_stop(s, end - s, STOP_JSON);
    }
    *text = start;
    *len = (const unsigned char *)scratch->data + scratch->len - start;
    *p = s + 1;
    return 0;
}

/* Digits Python's shortest repr of any double has at most; a plain number of at most SURE_DIGITS
   significant digits is that repr itself (two such decimals never round to one double). */
#define SURE_DIGITS 15
#define MAX_DIGITS 17

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* A JSON number at *p as the Python rule shows it (values.as_text: orjson's text of the int or float
   the text parses to), written to `out` (which has room for its text). 0 written; 1 written, a float of
   16 or 17 digits that is what Python shows only if they are the shortest that read back as the same
   double (the caller has that checked for all such numbers at once, by Arrow); -1 where this kernel leaves
   it to Python: an exponent, an integer of 19 digits or more (beyond int64 the rule keeps every digit, a
   path of its own), a float outside [1e-4, 1e16) (orjson writes an exponent there) or of more than 17
   digits. *p moves past the number. */
static int put_number(Buf *out, const unsigned char **p, const unsigned char *end)
{
    const unsigned char *s = *p, *start = s;
    int negative = 0;
    if (s < end && *s == '-') {
        negative = 1;
        s++;
    }
    const unsigned char *whole = s;
    if (s < end && *s == '0')
        s++;
    else if (s < end && *s >= '1' && *s <= '9')
        while (s < end && is_digit(*s))
            s++;
    else
        return -1;
    size_t whole_len = s - whole;
    if (s < end && (*s == 'e' || *s == 'E'))
        return -1;
    if (s >= end || *s != '.') {                 /* an integer */
        *p = s;
        if (whole_len >= 19)
            return -1;
        if (whole_len == 1 && *whole == '0')     /* -0 is the integer 0 */
            PUT_LITERAL(out, "0");
        else
            put(out, start, s - start);
        return 0;
    }
    const unsigned char *fraction = ++s;
    while (s < end && is_digit(*s))
        s++;
    size_t fraction_len = s - fraction;
    if (!fraction_len || (s < end && (*s == 'e' || *s == 'E')))
        return -1;
    *p = s;
    while (fraction_len > 1 && fraction[fraction_len - 1] == '0')
        fraction_len--;                           /* 2.50 is 2.5, 2.00 is 2.0 */
    int zero_whole = whole_len == 1 && *whole == '0';
    size_t digits;
    if (!zero_whole) {
        if (whole_len > 16)
            return -1;
        digits = whole_len + (fraction_len == 1 && *fraction == '0' ? 0 : fraction_len);
    } else {
        size_t zeros = 0;
        while (zeros < fraction_len && fraction[zeros] == '0')
            zeros++;
        if (zeros == fraction_len) {              /* 0.0 and -0.0 */
            if (negative)
                PUT_LITERAL(out, "-");
            PUT_LITERAL(out, "0.0");
            return 0;
        }
        if (zeros > 3)                            /* below 1e-4 */
            return -1;
        digits = fraction_len - zeros;
    }
    if (digits > MAX_DIGITS)
        return -1;
    put(out, start, fraction - start);
    put(out, fraction, fraction_len);
    return digits > SURE_DIGITS;
}

/* A member of the text being read: its key decoded, its value as it is written (escaped). Each is its
   span in the input where it needs no change, else in the scratch buffer, which does not move while a
   text is read and written. */
typedef struct {
    const unsigned char *key, *value;
    size_t key_len, value_len;
} Member;

typedef struct {
    Gil gil;
    Buf out, scratch;
    Buf checks, check_ends, check_rows;   /* the numbers to check: their texts, ends and rows */
    Py_ssize_t row;
    Member *members;
    size_t members_cap;
    const char *name;
    size_t name_len;
    int named;
    PyObject *is_element_name;
} MapWriter;

static inline const unsigned char *skip_space(const unsigned char *s, const unsigned char *end)
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
    gil_take(&w->gil);
    Member *grown = PyMem_Realloc(w->members, cap * sizeof(Member));
    if (!grown)
        PyErr_NoMemory();
    gil_release(&w->gil);
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
            } else {
                return -1;                   /* a nested object or list, or no JSON */
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

static inline int by_key(const Member *x, const Member *y)
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

static inline int name_start(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? 1 : c == '_'; }
static inline int name_char(unsigned char c) { return name_start(c) || is_digit(c) || c == '-' || c == '.'; }

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
    gil_take(&w->gil);
    int yes = -1;
    PyObject *text = PyUnicode_DecodeUTF8((const char *)key, n, "strict");
    PyObject *answer = text ? PyObject_CallOneArg(w->is_element_name, text) : NULL;
    if (answer)
        yes = PyObject_IsTrue(answer);
    Py_XDECREF(text);
    Py_XDECREF(answer);
    gil_release(&w->gil);
    return yes;
}

/* One text's fragment appended to w->out: 0 written, -1 left to the Python rule (the caller drops what
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
    Buf *out = &w->out;
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

/* ---- the module's functions ------------------------------------------------------------------------ */

typedef struct {
    Py_buffer offsets, data;
    const int32_t *at;        /* the array's offsets, from its first value */
    Py_ssize_t length;
} Strings;

static int open_strings(Strings *s, PyObject *offsets, PyObject *data, Py_ssize_t offset, Py_ssize_t length)
{
    memset(s, 0, sizeof(*s));
    if (PyObject_GetBuffer(offsets, &s->offsets, PyBUF_SIMPLE))
        return -1;
    if (PyObject_GetBuffer(data, &s->data, PyBUF_SIMPLE)) {
        PyBuffer_Release(&s->offsets);
        return -1;
    }
    if (offset < 0 || length < 0 || (size_t)s->offsets.len < (offset + length + 1) * sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "the offsets buffer is shorter than the array");
        goto fail;
    }
    s->at = (const int32_t *)s->offsets.buf + offset;
    s->length = length;
    if (length && (s->at[0] < 0 || s->at[length] > s->data.len || s->at[length] < s->at[0])) {
        PyErr_SetString(PyExc_ValueError, "the offsets point outside the data buffer");
        goto fail;
    }
    return 0;
fail:
    PyBuffer_Release(&s->offsets);
    PyBuffer_Release(&s->data);
    return -1;
}

static void close_strings(Strings *s)
{
    PyBuffer_Release(&s->offsets);
    PyBuffer_Release(&s->data);
}

static const unsigned char *value_at(Strings *s, Py_ssize_t i, const unsigned char **end)
{
    const unsigned char *data = s->data.buf;
    *end = data + s->at[i + 1];
    return data + s->at[i];
}

/* The ends of a new array's values (its offsets), as bytes: the first is 0. */
static PyObject *new_ends(Py_ssize_t length, int32_t **ends)
{
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (length + 1) * sizeof(int32_t));
    if (bytes) {
        *ends = (int32_t *)PyBytes_AS_STRING(bytes);
        (*ends)[0] = 0;
    }
    return bytes;
}

/* Ends value i at the output's length; -1 past what int32 offsets can say. */
static int end_value(int32_t *ends, Py_ssize_t i, Buf *out, Gil *gil)
{
    if (out->len > INT32_MAX) {
        gil_take(gil);
        PyErr_SetString(PyExc_OverflowError, "the XML of these values is over 2 GiB: encode fewer rows at once");
        gil_release(gil);
        return -1;
    }
    ends[i + 1] = (int32_t)out->len;
    return 0;
}

PyDoc_STRVAR(map_fragments_doc,
"map_fragments(offsets, data, offset, length, name, named, is_element_name)\n"
"    -> (offsets, data, python, check_rows, check_offsets, check_data)\n\n"
"The XML fragment of each JSON object text of a string array (its offsets and data buffers, its offset\n"
"and length), as a string array's offsets and data; `python` holds a byte per text, 1 where the kernel\n"
"left the text to the Python rule (its fragment is empty). The fragment of text check_rows[i] (int32)\n"
"holds the number check i of the string array (check_offsets, check_data), a float of 16 or 17 digits\n"
"that is right only if they are the shortest repr of its double. Keys are element names only when `named`;\n"
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
    MapWriter w = {.name = name, .name_len = name_len, .named = named, .is_element_name = is_name};
    int32_t *ends = NULL;
    PyObject *result = NULL, *ends_bytes = new_ends(length, &ends);
    PyObject *python = PyBytes_FromStringAndSize(NULL, length);
    size_t size = length ? (size_t)(texts.at[length] - texts.at[0]) : 0;
    int32_t zero = 0;
    if (!ends_bytes || !python || open_output(&w.out, 2 * size + (2 * name_len + 5) * length)
        || open_output(&w.checks, 256) || open_output(&w.check_rows, 256) || open_output(&w.check_ends, 256))
        goto done;
    put(&w.check_ends, &zero, sizeof(zero));
    char *left = PyBytes_AS_STRING(python);
    w.out.gil = w.scratch.gil = w.checks.gil = w.check_rows.gil = w.check_ends.gil = &w.gil;
    gil_release(&w.gil);
    for (Py_ssize_t i = 0; i < length; i++) {
        const unsigned char *end, *text = value_at(&texts, i, &end);
        w.row = i;
        size_t row = w.out.len;
        int status = put_map(&w, text, end);
        if (status == -2)
            break;
        if (status == -1)
            w.out.len = row;
        left[i] = status == -1;
        if (end_value(ends, i, &w.out, &w.gil))
            break;
    }
    gil_take(&w.gil);
    if (PyErr_Occurred())
        goto done;
    PyObject *fragments = close_output(&w.out), *rows = close_output(&w.check_rows);
    PyObject *check_ends = close_output(&w.check_ends), *checks = close_output(&w.checks);
    if (fragments && rows && check_ends && checks)
        result = Py_BuildValue("(NNNNNN)", ends_bytes, fragments, python, rows, check_ends, checks);
    else {
        Py_XDECREF(fragments);
        Py_XDECREF(rows);
        Py_XDECREF(check_ends);
        Py_XDECREF(checks);
        Py_XDECREF(ends_bytes);
        Py_XDECREF(python);
    }
    ends_bytes = python = NULL;
done:
    Py_XDECREF(ends_bytes);
    Py_XDECREF(python);
    Py_XDECREF(w.out.owner);
    Py_XDECREF(w.checks.owner);
    Py_XDECREF(w.check_rows.owner);
    Py_XDECREF(w.check_ends.owner);
    PyMem_Free(w.scratch.data);
    PyMem_Free(w.members);
    close_strings(&texts);
    return result;
}

PyDoc_STRVAR(escape_texts_doc,
"escape_texts(offsets, data, offset, length) -> (offsets, data)\n\n"
"Each value of a string array escaped for XML (xml_format.escape), as a string array's offsets and data.");

static PyObject *escape_texts(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *offsets, *data;
    Py_ssize_t offset, length;
    if (!PyArg_ParseTuple(args, "OOnn:escape_texts", &offsets, &data, &offset, &length))
        return NULL;
    Strings texts;
    if (open_strings(&texts, offsets, data, offset, length))
        return NULL;
    Buf out = {0};
    int32_t *ends = NULL;
    PyObject *result = NULL, *ends_bytes = new_ends(length, &ends);
    size_t size = length ? (size_t)(texts.at[length] - texts.at[0]) : 0;
    if (!ends_bytes || open_output(&out, size + size / 8 + 64))
        goto done;
    Gil gil = {0};
    out.gil = &gil;
    gil_release(&gil);
    for (Py_ssize_t i = 0; i < length; i++) {
        const unsigned char *end, *text = value_at(&texts, i, &end);
        if (reserve(&out, GROWTH * (size_t)(end - text) + 8))
            break;
        put_escaped(&out, text, end - text);
        if (end_value(ends, i, &out, &gil))
            break;
    }
    gil_take(&gil);
    if (PyErr_Occurred())
        goto done;
    PyObject *escaped = close_output(&out);
    if (escaped)
        result = Py_BuildValue("(NN)", ends_bytes, escaped);
    ends_bytes = NULL;
done:
    Py_XDECREF(ends_bytes);
    Py_XDECREF(out.owner);
    close_strings(&texts);
    return result;
}

static PyMethodDef methods[] = {
    {"map_fragments", map_fragments, METH_VARARGS, map_fragments_doc},
    {"escape_texts", escape_texts, METH_VARARGS, escape_texts_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, .m_name = "_xml_text", .m_size = -1, .m_methods = methods};

PyMODINIT_FUNC PyInit__xml_text(void)
{
    init_classes();
    return PyModule_Create(&module);
}
