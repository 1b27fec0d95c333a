/* JSON numbers as the Python rule shows them (values.as_text). */

#ifndef XML_NATIVE_NUMBERS_H
#define XML_NATIVE_NUMBERS_H

#include "text.h"

/* Digits Python's shortest repr of any double has at most; a plain number of at most SURE_DIGITS
   significant digits is that repr itself (two such decimals never round to one double). */
#define SURE_DIGITS 15
#define MAX_DIGITS 17

static inline ALWAYS_INLINE int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

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

#endif
