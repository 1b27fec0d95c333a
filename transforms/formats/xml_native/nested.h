/* A nested value (an object or a list inside a map) as the Python rule shows it: orjson's compact JSON of
   the parsed value (values.as_text), escaped for XML. Included by maps.h after MapWriter and add_check. */

#ifndef XML_NATIVE_NESTED_H
#define XML_NATIVE_NESTED_H

/* How deep a value may nest before the Python rule decides; how many keys one object may have here. */
#define MAX_DEPTH 32
#define MAX_KEYS 64

static const char HEX_DIGITS[] = "0123456789abcdef";

/* A decoded character as orjson writes it in a JSON string (`"`, `\`, and controls escaped, `\u00XX` in
   lower case for those without a short form; everything else, `/` and non-ASCII included, as it is), then
   escaped for XML (`&`, `<`, `>`, and U+FFFE and U+FFFF become U+FFFD). */
static inline ALWAYS_INLINE char *write_json_char(char *d, uint32_t cp)
{
    if (cp == '"' || cp == '\\') {
        d[0] = '\\';
        d[1] = (char)cp;
        return d + 2;
    }
    if (cp < 0x20) {
        static const char short_form[32] = {[8] = 'b', [9] = 't', [10] = 'n', [12] = 'f', [13] = 'r'};
        d[0] = '\\';
        if (short_form[cp]) {
            d[1] = short_form[cp];
            return d + 2;
        }
        memcpy(d + 1, "u00", 3);
        d[4] = HEX_DIGITS[cp >> 4];
        d[5] = HEX_DIGITS[cp & 15];
        return d + 6;
    }
    if (cp < 0x80)
        return write_ascii(d, (unsigned char)cp, 1);
    if (cp == 0xFFFE || cp == 0xFFFF) {
        memcpy(d, REPLACEMENT, 3);
        return d + 3;
    }
    return write_utf8(d, cp);
}

/* A JSON string from its opening quote at *p, written again as orjson writes it, escaped for XML; NULL
   where it is not JSON or holds a lone surrogate. *p moves past its closing quote. */
static char *write_json_string(char *d, const unsigned char **p, const unsigned char *end)
{
    const unsigned char *s = *p + 1;
    *d++ = '"';
    for (;;) {
        size_t run = find_stop(s, end - s, STOP_JSON);
        d = copy_run(d, s, run, end);
        s += run;
        if (s >= end || *s < 0x20)
            return NULL;
        if (*s == '"')
            break;
        if (*s == 0xEF) {
            d = write_ef(d, &s, end);
            continue;
        }
        if (*s != '\\') {
            d = write_ascii(d, *s++, 1);
            continue;
        }
        uint32_t cp;
        if (s + 1 < end && json_simple[s[1]]) {
            cp = json_simple[s[1]];
            s += 2;
        } else if (read_unicode_escape(&s, end, &cp)) {
            return NULL;
        }
        d = write_json_char(d, cp);
    }
    *p = s + 1;
    *d++ = '"';
    return d;
}

/* A JSON value at *p written to w->scratch as orjson writes it, escaped for XML (the caller reserved
   GROWTH bytes per input byte and 16 more: what is written never outgrows that). 0 written, -1 left to
   the Python rule (an object naming a key twice, deeper than MAX_DEPTH or with more than MAX_KEYS keys,
   a number put_number leaves, no JSON), -2 a Python error. *p moves past it. */
static int put_nested(MapWriter *w, const unsigned char **p, const unsigned char *end, int depth)
{
    Buf *scratch = &w->scratch;
    const unsigned char *s = *p;
    if (s >= end)
        return -1;
    if (*s == '"') {
        char *d = write_json_string(scratch->data + scratch->len, &s, end);
        if (!d)
            return -1;
        scratch->len = d - scratch->data;
    } else if (*s == '-' || is_digit(*s)) {
        const unsigned char *text = (const unsigned char *)scratch->data + scratch->len;
        int check = put_number(scratch, &s, end);
        if (check < 0)
            return -1;
        if (check && add_check(w, text, (const unsigned char *)scratch->data + scratch->len - text))
            return -2;
    } else if (end - s >= 4 && (!memcmp(s, "true", 4) || !memcmp(s, "null", 4))) {
        put(scratch, s, 4);
        s += 4;
    } else if (end - s >= 5 && !memcmp(s, "false", 5)) {
        put(scratch, s, 5);
        s += 5;
    } else if ((*s == '[' || *s == '{') && depth < MAX_DEPTH) {
        int object = *s == '{';
        size_t keys[MAX_KEYS], key_ends[MAX_KEYS], count = 0;
        scratch->data[scratch->len++] = (char)*s;
        s = skip_space(s + 1, end);
        if (s < end && *s == (object ? '}' : ']'))
            goto closed;
        for (;;) {
            if (object) {       /* a key, as orjson writes it; two keys written alike are one key */
                if (s >= end || *s != '"' || count == MAX_KEYS)
                    return -1;
                keys[count] = scratch->len;
                char *d = write_json_string(scratch->data + scratch->len, &s, end);
                if (!d)
                    return -1;
                scratch->len = d - scratch->data;
                key_ends[count] = scratch->len;
                for (size_t k = 0; k < count; k++)
                    if (key_ends[k] - keys[k] == key_ends[count] - keys[count]
                        && !memcmp(scratch->data + keys[k], scratch->data + keys[count], key_ends[k] - keys[k]))
                        return -1;
                count++;
                s = skip_space(s, end);
                if (s >= end || *s != ':')
                    return -1;
                scratch->data[scratch->len++] = ':';
                s = skip_space(s + 1, end);
            }
            int status = put_nested(w, &s, end, depth + 1);
            if (status)
                return status;
            s = skip_space(s, end);
            if (s < end && *s == ',') {
                scratch->data[scratch->len++] = ',';
                s = skip_space(s + 1, end);
                continue;
            }
            if (s < end && *s == (object ? '}' : ']'))
                break;
            return -1;
        }
closed:
        scratch->data[scratch->len++] = (char)*s++;
    } else {
        return -1;
    }
    *p = s;
    return 0;
}

#endif
