/* Text for XML: buffers, the GIL, escaping, and JSON strings read as they are written (decoded, escaped).
   One translation unit (module.c) includes it; see transforms/formats/xml_text.py for the why. */

#ifndef XML_NATIVE_TEXT_H
#define XML_NATIVE_TEXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif

/* The GIL, released while the kernels loop over values (so the reading and compressing threads run
   beside them) and taken back for what needs Python: growing a buffer, the rare key or number Python
   decides. */
typedef struct {
    PyThreadState *saved;      /* not NULL while released */
} Gil;

static inline ALWAYS_INLINE void gil_take(Gil *gil)
{
    if (gil && gil->saved) {
        PyEval_RestoreThread(gil->saved);
        gil->saved = NULL;
    }
}

static inline ALWAYS_INLINE void gil_release(Gil *gil)
{
    if (gil && !gil->saved)
        gil->saved = PyEval_SaveThread();
}

/* A growing byte buffer. An output's memory is either the caller's (`external`: an Arrow buffer from
   its memory pool, whose pages are reused from slice to slice where fresh ones cost a page fault each)
   or a bytes object (`owner`), grown in place and handed to the caller without a copy; an output that
   outgrows the caller's memory moves to a bytes object. Scratch memory is plain. */
typedef struct {
    char *data;
    size_t len, cap;
    PyObject *owner;
    int external;
    Gil *gil;
} Buf;

static int grow(Buf *b, size_t cap)
{
    if (b->external) {
        PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
        if (!bytes)
            return -1;
        memcpy(PyBytes_AS_STRING(bytes), b->data, b->len);
        b->owner = bytes;
        b->external = 0;
        b->data = PyBytes_AS_STRING(bytes);
    } else if (b->owner) {
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

/* An output in the caller's memory, `cap` bytes at `data`. */
static void open_external(Buf *b, void *data, size_t cap)
{
    b->data = data;
    b->len = 0;
    b->cap = cap;
    b->external = 1;
}

/* The output as a bytes object of its length (a new reference), or NULL. */
static PyObject *close_output(Buf *b)
{
    PyObject *bytes = b->owner;
    b->owner = NULL;
    if (!bytes || _PyBytes_Resize(&bytes, (Py_ssize_t)b->len))
        return NULL;
    return bytes;
}

static inline ALWAYS_INLINE void put(Buf *b, const void *src, size_t n)
{
    memcpy(b->data + b->len, src, n);
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
static inline ALWAYS_INLINE size_t find_stop(const unsigned char *s, size_t n, int set)
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

/* The writers below take the place to write at and return the place after what they wrote: a Buf's
   length kept in a register, where writing through the Buf reloaded it at every byte. */

/* U+FFFE and U+FFFF (EF BF BE, EF BF BF) become U+FFFD; any other byte 0xEF starts a character kept as is.
   *s moves past what was taken. */
static inline ALWAYS_INLINE char *write_ef(char *d, const unsigned char **s, const unsigned char *end)
{
    const unsigned char *c = *s;
    if (end - c >= 3 && c[1] == 0xBF && (c[2] == 0xBE || c[2] == 0xBF)) {
        memcpy(d, REPLACEMENT, 3);
        *s = c + 3;
        return d + 3;
    }
    *d = (char)*c;
    *s = c + 1;
    return d + 1;
}

static inline ALWAYS_INLINE char *write_utf8(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return d + 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3F));
        return d + 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return d + 3;
    }
    d[0] = (char)(0xF0 | cp >> 18);
    d[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    d[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return d + 4;
}

static inline ALWAYS_INLINE int hex4(const unsigned char *s, uint32_t *value)
{
    int a = hex_value[s[0]], b = hex_value[s[1]], c = hex_value[s[2]], d = hex_value[s[3]];
    if ((a | b | c | d) < 0)
        return -1;
    *value = (uint32_t)(a << 12 | b << 8 | c << 4 | d);
    return 0;
}

/* An ASCII character, escaped as text (`escape`) or as it is; 8 bytes written (the callers reserve them). */
static inline ALWAYS_INLINE char *write_ascii(char *d, unsigned char c, int escape)
{
    if (!escape) {
        *d = (char)c;
        return d + 1;
    }
    memcpy(d, &xml_piece[c], 8);     /* the text and, past it, bytes the next write covers */
    return d + xml_piece[c].len;
}

/* A run of n bytes at s, copied as 16 when short and 16 bytes can be read before `limit` (text dense with
   escapes has many short runs, and a call to memcpy each cost more than the copy); the callers reserve 16
   bytes more than they write. */
static inline ALWAYS_INLINE char *copy_run(char *d, const unsigned char *s, size_t n, const unsigned char *limit)
{
    if (n <= 16 && limit - s >= 16)
        memcpy(d, s, 16);
    else
        memcpy(d, s, n);
    return d + n;
}

/* Decoded UTF-8 text, escaped; the caller reserved GROWTH bytes per input byte and 16 more. */
static char *write_escaped(char *d, const unsigned char *s, size_t n)
{
    const unsigned char *end = s + n;
    for (;;) {
        size_t run = find_stop(s, end - s, STOP_TEXT);
        d = copy_run(d, s, run, end);
        s += run;
        if (s == end)
            return d;
        if (*s == 0xEF)
            d = write_ef(d, &s, end);
        else
            d = write_ascii(d, *s++, 1);
    }
}

static inline ALWAYS_INLINE void put_escaped(Buf *out, const unsigned char *s, size_t n)
{
    out->len = write_escaped(out->data + out->len, s, n) - out->data;
}

/* `\uXXXX` (and its low surrogate) at *s -> its code point; -1 where it is malformed or a lone
   surrogate (the Python rule decides). *s moves past it. */
static inline ALWAYS_INLINE int read_unicode_escape(const unsigned char **s, const unsigned char *end, uint32_t *cp)
{
    const unsigned char *e = *s;
    uint32_t low;
    if (end - e < 6 || e[1] != 'u' || hex4(e + 2, cp))
        return -1;
    e += 6;
    if (*cp >= 0xD800 && *cp <= 0xDFFF) {
        if (*cp > 0xDBFF || end - e < 6 || e[0] != '\\' || e[1] != 'u' || hex4(e + 2, &low)
            || low < 0xDC00 || low > 0xDFFF)
            return -1;
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
        e += 6;
    }
    *s = e;
    return 0;
}

/* `\uXXXX` at *s written decoded (escaped when `escape`); NULL as read_unicode_escape says -1. */
static inline ALWAYS_INLINE char *write_unicode_escape(char *d, const unsigned char **s, const unsigned char *end, int escape)
{
    uint32_t cp;
    if (read_unicode_escape(s, end, &cp))
        return NULL;
    if (cp < 0x80)
        return write_ascii(d, (unsigned char)cp, escape);
    if (escape && (cp == 0xFFFE || cp == 0xFFFF)) {
        memcpy(d, REPLACEMENT, 3);
        return d + 3;
    }
    return write_utf8(d, cp);
}

/* A JSON string from its opening quote at *p, ready to be written: decoded, and escaped for XML when
   `escape`. Where it holds nothing to decode or escape, it is its span in the input; else it is written
   to `scratch` (GROWTH bytes per input byte and 16 more reserved). -1 where it is not JSON (unterminated,
   a raw control) or holds an escape the Python rule must decide. *p moves past the closing quote. */
static inline ALWAYS_INLINE int read_string(const unsigned char **p, const unsigned char *end, Buf *scratch, int escape,
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
    char *start = scratch->data + scratch->len, *d = start;
    for (;;) {
        d = copy_run(d, s, run, end);
        s += run;
        do {        /* stops come in runs (`\r\n`, a surrogate pair): each is taken here, not by a new scan */
            if (s >= end)
                return -1;
            unsigned char c = *s;
            if (c == '"')
                goto closed;
            if (c == '\\') {
                unsigned char simple = s + 1 < end ? json_simple[s[1]] : 0;
                if (simple) {
                    d = write_ascii(d, simple, escape);
                    s += 2;
                } else if (!(d = write_unicode_escape(d, &s, end, escape))) {
                    return -1;
                }
            } else if (c < 0x20) {
                return -1;
            } else if (!escape) {
                *d++ = (char)c;
                s++;
            } else if (c == 0xEF) {
                d = write_ef(d, &s, end);
            } else {
                d = write_ascii(d, c, 1);
                s++;
            }
        } while (s >= end || (stops[*s] & STOP_JSON));
        run = find_stop(s, end - s, STOP_JSON);
    }
closed:
    scratch->len = d - scratch->data;
    *text = (const unsigned char *)start;
    *len = d - start;
    *p = s + 1;
    return 0;
}

#endif
